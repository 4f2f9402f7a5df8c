//! Replication telemetry: every 250 ms, `INFO replication` from every node that answers, as
//! observer records in `telemetry.jsonl`. The checkers and the report use it to explain anomalies
//! (a lost write's offset against the promoted replica's offset; lag under a delayed link).

use super::tasks::Background;
use crate::cluster::admin;
use crate::recorder::Recorder;
use futures_util::future::join_all;
use redline_checkers::{Function, Op, OpType, Process};
use std::net::SocketAddr;
use std::time::Duration;

pub const INTERVAL: Duration = Duration::from_millis(250);

/// Samples, in a task of `background`, for as long as the run holds `background`. A paused or
/// dead node simply has no sample for that tick; sampling never waits for it longer than the
/// interval.
pub fn spawn(background: &mut Background, nodes: Vec<(String, SocketAddr)>, recorder: Recorder) {
    background.spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let samples = join_all(nodes.iter().map(|(name, addr)| async move {
                (name, admin::replication(*addr, INTERVAL).await)
            }))
            .await;
            for (name, sample) in samples {
                let Ok(r) = sample else { continue };
                let mut op = Op::new(0, 0, Process::Observer, OpType::Info, Function::Replication);
                op.node = Some(name.clone());
                op.value = serde_json::to_value(&r).unwrap_or_default();
                recorder.record(op);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The telemetry task used to be a detached `JoinHandle`: a run that left through an error
    /// (heal or converge failing) never aborted it, and it sampled for the rest of the process.
    /// Now it dies with the set the run owns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn telemetry_ends_when_the_run_lets_go_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let recorder =
            Recorder::create(&dir.path().join("t.jsonl"), std::time::Instant::now()).unwrap();
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        {
            let mut background = Background::new();
            let nodes = vec![("n1".to_string(), "127.0.0.1:1".parse().unwrap())];
            spawn(&mut background, nodes, recorder);
            tokio::time::sleep(INTERVAL).await;
            assert_eq!(metrics.num_alive_tasks(), before + 1);
            // The run leaves here, as through an error from heal: nothing aborts explicitly.
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while metrics.num_alive_tasks() > before && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            metrics.num_alive_tasks(),
            before,
            "the telemetry task leaked"
        );
    }
}
