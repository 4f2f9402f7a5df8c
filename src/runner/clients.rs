//! The client loop: `concurrency` tasks, each a sequence of processes. A task asks the
//! generator for the next invocation, records it (and waits until its line is written: see
//! `crate::recorder` for what that guarantees), lets its process's client run it (bounded by
//! the operation timeout), and records the completion. A process whose operation ended `info`
//! never invokes again: the task continues as process `id + concurrency` with a fresh client,
//! as Jepsen does, so every process stays a single thread of invocations.
//!
//! The tasks are owned by a `JoinSet`: every one is awaited, and one that panicked (or stopped
//! because the generator it shares panicked while another task held it) is reported, never
//! dropped. The runner then counts the clients as a part of the run that did not run in full.

use super::tasks::panic_message;
use crate::recorder::Recorder;
use crate::shutdown::Shutdown;
use redline_checkers::OpType;
use redline_workloads::{Client, Generator, Topology, WorkloadConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
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

/// How the client tasks ended.
#[derive(Debug, Default)]
pub struct ClientsOutcome {
    /// The highest process id used.
    pub highest_process: u64,
    /// Why a client task ended before the deadline (a panic, a poisoned generator), one line
    /// each.
    pub failures: Vec<String>,
}

/// Runs the clients until `deadline` or shutdown, and waits for every one of them.
pub async fn run(run: Arc<ClientRun>, deadline: Instant, shutdown: Shutdown) -> ClientsOutcome {
    let concurrency = run.cfg.concurrency;
    let mut tasks = JoinSet::new();
    for slot in 0..concurrency as u64 {
        tasks.spawn(client_task(run.clone(), slot, deadline, shutdown.clone()));
    }
    let mut outcome = ClientsOutcome {
        highest_process: concurrency as u64,
        failures: Vec::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(process)) => outcome.highest_process = outcome.highest_process.max(process),
            Ok(Err(why)) => outcome.failures.push(why),
            Err(e) if e.is_panic() => outcome.failures.push(format!(
                "a client task panicked: {}",
                panic_message(e.into_panic())
            )),
            Err(e) => outcome.failures.push(format!("a client task ended: {e}")),
        }
    }
    outcome
}

/// One slot's loop; the last process id it used, or why it stopped early.
async fn client_task(
    run: Arc<ClientRun>,
    slot: u64,
    deadline: Instant,
    shutdown: Shutdown,
) -> Result<u64, String> {
    let concurrency = run.cfg.concurrency as u64;
    let mut process = slot;
    let mut client = Client::new(&run.cfg, run.topology.clone(), process);
    // With a rate, each client issues one op every `concurrency / rate` seconds, phase-shifted
    // by its slot so the clients do not fire in lockstep.
    let period = match run.rate {
        r if r > 0.0 => Some(
            Duration::try_from_secs_f64(concurrency as f64 / r)
                .map_err(|e| format!("--rate {r} gives no usable period: {e}"))?,
        ),
        _ => None,
    };
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
            Err(_) => {
                return Err(format!(
                    "client {slot} stopped: the generator panicked in another client"
                ))
            }
        };
        // The invocation is written before the command is sent; the completion is written by
        // this client or by the write under way, without this client waiting for it.
        let invoke = run.recorder.enqueue(op);
        run.recorder.written(invoke.index).await;
        let completion = client.invoke(&invoke).await;
        let outcome = completion.op_type;
        run.recorder.enqueue(completion);
        run.counters.count(outcome);
        if outcome == OpType::Info {
            process += concurrency;
            client = Client::new(&run.cfg, run.topology.clone(), process);
        }
        if let Some(p) = period {
            next += p;
        }
    }
    Ok(process)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::{Op, WorkloadKind};
    use redline_workloads::client::{Call, Done};
    use redline_workloads::generator::Slot;
    use redline_workloads::workload::{About, Defaults, Execution, Workload};

    /// A workload whose generator panics on its third op: what a generator bug looks like.
    #[derive(Debug)]
    struct Panicky;

    static PANICKY: Panicky = Panicky;
    static GENERATED: AtomicU64 = AtomicU64::new(0);

    impl Workload for Panicky {
        fn about(&self) -> &'static About {
            &About {
                name: "panicky",
                model: WorkloadKind::Set,
                defaults: Defaults {
                    keys: 1,
                    read_ratio: 0.0,
                    set_size: None,
                },
                needs: &[],
            }
        }
        fn generate(&self, _slot: &mut Slot, _cfg: &WorkloadConfig) -> Op {
            if GENERATED.fetch_add(1, Ordering::SeqCst) == 2 {
                panic!("generator bug");
            }
            redline_workloads::workload::invocation(redline_checkers::Function::Read)
        }
        fn execute<'a>(&'a self, _call: Call<'a>) -> Execution<'a> {
            Box::pin(async { Ok(Done::default()) })
        }
        fn final_reads(&self, _cfg: &WorkloadConfig) -> Vec<Op> {
            Vec::new()
        }
    }

    /// A client task that panicked used to be dropped (`if let Ok(p) = t.await`), and the
    /// others stopped quietly on the poisoned generator: the run passed. Every one is reported.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_generator_is_reported_for_every_client_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let recorder =
            Recorder::create(&dir.path().join("h.jsonl"), std::time::Instant::now()).unwrap();
        let cfg = WorkloadConfig {
            concurrency: 3,
            op_timeout: Duration::from_millis(100),
            ..WorkloadConfig::new(&PANICKY)
        };
        // Nothing listens on port 1: every op fails fast, and the loop goes on.
        let topology = Topology::new(&[("n1".to_string(), "127.0.0.1:1".parse().unwrap())], "n1");
        let run = Arc::new(ClientRun {
            generator: Arc::new(Mutex::new(Generator::new(&cfg, 1))),
            cfg,
            topology,
            recorder,
            counters: Arc::default(),
            rate: 0.0,
        });
        // Every client ends at the poisoned generator long before this: the deadline only
        // bounds the test. (At 2 s, a CI machine under load once reached it before one client
        // came back to the generator, which then ended quietly.)
        let deadline = Instant::now() + Duration::from_secs(60);
        let outcome = super::run(run, deadline, Shutdown::default()).await;
        assert_eq!(outcome.failures.len(), 3, "{:?}", outcome.failures);
        assert!(outcome
            .failures
            .iter()
            .any(|f| f.contains("panicked: generator bug")));
        assert!(outcome
            .failures
            .iter()
            .any(|f| f.contains("the generator panicked in another client")));
    }
}
