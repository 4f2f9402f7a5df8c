//! The case: the workload's clients and the nemesis's schedule, run together for
//! `--time-limit`, with replication telemetry, Sentinel's announcements and the progress line
//! beside them. How each of them ended decides whether the case ran in full: clients that
//! performed no operation, a client that panicked, a nemesis that panicked are reasons the
//! run is incomplete.

use super::clients::{self, ClientRun, Counters};
use super::cluster_watch::Watch;
use super::completeness::{Completeness, Part};
use super::tasks::{panic_message, Background};
use super::{progress, telemetry, Run};
use crate::cluster::backend::Backend;
use crate::cluster::links::Delay;
use crate::cluster::sentinel_events;
use crate::nemesis::driver::{ActiveFaults, Nemesis};
use crate::recorder::Recorder;
use futures_util::FutureExt;
use redline_workloads::Generator;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Where the case records: the history, and the telemetry beside it.
pub struct Recorders<'a> {
    pub history: &'a Recorder,
    pub telemetry: &'a Recorder,
    /// On a cluster, the watch that records every node's view in the history.
    pub cluster: Option<&'a Watch>,
}

/// Runs the case; telemetry keeps sampling in `background` until the pipeline drops it (heal
/// and convergence are worth watching too). Returns the highest client process id used.
pub(super) async fn run<B: Backend>(
    cluster: &Arc<tokio::sync::Mutex<B>>,
    run: &Run<'_>,
    recorders: Recorders<'_>,
    background: &mut Background,
    parts: &mut Completeness,
) -> u64 {
    let (plan, recorder) = (run.plan, recorders.history);
    let (topology, nodes, sentinels) = {
        let c = cluster.lock().await;
        let nodes: Vec<_> = c
            .node_names()
            .into_iter()
            .filter_map(|n| Some((n.clone(), c.admin_addr(&n)?)))
            .collect();
        (c.topology(), nodes, c.sentinel_addrs())
    };
    match recorders.cluster {
        // A cluster has a primary per shard: its records are every node's view of itself.
        Some(watch) => {
            watch.record_now().await;
            watch.spawn(background);
        }
        None => {
            recorder.record(sentinel_events::topology_op(&topology));
            sentinel_events::record_master_changes(&topology, recorder);
        }
    }
    let _sentinel_events = sentinel_events::follow(sentinels, recorder.clone(), topology.clone());
    telemetry::spawn(background, nodes, recorders.telemetry.clone());

    let cfg = run.workload.clone();
    let counters = Arc::new(Counters::default());
    let clients = Arc::new(ClientRun {
        cfg: cfg.clone(),
        topology,
        recorder: recorder.clone(),
        generator: Arc::new(Mutex::new(Generator::new(&cfg, plan.seed))),
        counters: counters.clone(),
        rate: plan.config.rate,
    });
    let active = ActiveFaults::default();
    let nemesis = Nemesis {
        cluster: cluster.clone(),
        recorder: recorder.clone(),
        delay: Delay {
            base: Duration::from_millis(plan.config.delay_ms),
            jitter: Duration::from_millis(plan.config.delay_jitter_ms),
        },
        active: active.clone(),
    };
    let begin = Instant::now();
    let deadline = begin + Duration::from_secs_f64(plan.config.time_limit);
    let progress = progress::spawn(background, plan.config.time_limit, counters.clone(), active);
    // The nemesis runs in this task (a backend's futures need not be `Send`), so its panic is
    // caught here rather than by a join handle.
    let (clients, nemesis) = tokio::join!(
        clients::run(clients, deadline, run.shutdown.clone()),
        AssertUnwindSafe(nemesis.run(run.steps, begin, run.shutdown)).catch_unwind(),
    );
    progress.finish();

    if counters.total() == 0 {
        parts.missing(Part::Clients, "no client performed an operation");
    }
    for failure in clients.failures {
        parts.missing(Part::Clients, failure);
    }
    if let Err(panic) = nemesis {
        parts.missing(
            Part::Nemesis,
            format!("the nemesis panicked: {}", panic_message(panic)),
        );
    }
    clients.highest_process
}
