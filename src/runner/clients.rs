//! The client loop: `concurrency` tasks, each a sequence of processes. A task asks the
//! generator for the next invocation, records it, lets its process's client run it (bounded by
//! the operation timeout), and records the completion. A process whose operation ended `info`
//! never invokes again: the task continues as process `id + concurrency` with a fresh client,
//! as Jepsen does, so every process stays a single thread of invocations.

use crate::recorder::Recorder;
use crate::shutdown::Shutdown;
use redline_checkers::OpType;
use redline_workloads::{Client, Generator, Topology, WorkloadConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Completed operations by outcome, for the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    pub ok: AtomicU64,
    pub fail: AtomicU64,
    pub info: AtomicU64,
}

impl Counters {
    fn count(&self, t: OpType) {
        let c = match t {
            OpType::Ok => &self.ok,
            OpType::Fail => &self.fail,
            _ => &self.info,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
    }
}

/// Everything the client tasks share.
pub struct ClientRun {
    pub cfg: WorkloadConfig,
    pub topology: Topology,
    pub recorder: Recorder,
    pub generator: Arc<Mutex<Generator>>,
    pub counters: Arc<Counters>,
    /// Target operations per second over all clients; 0 for unlimited.
    pub rate: f64,
}

/// Runs the clients until `deadline` or shutdown; returns the highest process id used.
pub async fn run(run: Arc<ClientRun>, deadline: Instant, shutdown: Shutdown) -> u64 {
    let concurrency = run.cfg.concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|slot| {
            tokio::spawn(client_task(
                run.clone(),
                slot as u64,
                deadline,
                shutdown.clone(),
            ))
        })
        .collect();
    let mut highest = concurrency as u64;
    for t in tasks {
        if let Ok(p) = t.await {
            highest = highest.max(p);
        }
    }
    highest
}

async fn client_task(run: Arc<ClientRun>, slot: u64, deadline: Instant, shutdown: Shutdown) -> u64 {
    let concurrency = run.cfg.concurrency as u64;
    let mut process = slot;
    let mut client = Client::new(&run.cfg, run.topology.clone(), process);
    // With a rate, each client issues one op every `concurrency / rate` seconds, phase-shifted
    // by its slot so the clients do not fire in lockstep.
    let period = (run.rate > 0.0).then(|| Duration::from_secs_f64(concurrency as f64 / run.rate));
    let mut next = Instant::now()
        + period.map_or(Duration::ZERO, |p| {
            p.mul_f64(slot as f64 / concurrency as f64)
        });
    while Instant::now() < deadline && !shutdown.is_triggered() {
        if period.is_some() && !shutdown.sleep_until(next.min(deadline)).await {
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        let op = match run.generator.lock() {
            Ok(mut g) => g.next_op(process),
            Err(_) => break,
        };
        let invoke = run.recorder.record(op);
        let completion = client.invoke(&invoke).await;
        let outcome = completion.op_type;
        run.recorder.record(completion);
        run.counters.count(outcome);
        if outcome == OpType::Info {
            process += concurrency;
            client = Client::new(&run.cfg, run.topology.clone(), process);
        }
        if let Some(p) = period {
            next += p;
        }
    }
    process
}
