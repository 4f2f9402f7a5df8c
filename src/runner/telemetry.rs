//! Telemetry: every 250 ms, `INFO replication` and `INFO persistence` from every node that
//! answers, one observer `replication` record per node in `telemetry.jsonl`. The report charts
//! it (replication lag, the AOF buffer and background fsyncs beside the faults) and the
//! lost-writes explanations cite it (what a node's AOF held when it was killed).
//!
//! Size: a run of minutes samples each node thousands of times, so a record keeps only what
//! explains something. The persistence part is the handful of fields of
//! [`redline_checkers::telemetry::Persistence`], with zeros and `ok` statuses left out: about
//! 60 bytes beside the 200 of `INFO replication` (some 70 KB per node per minute in all).

use super::tasks::Background;
use crate::cluster::admin;
use crate::recorder::Recorder;
use futures_util::future::join_all;
use redline_checkers::telemetry::{sample_record, Persistence};
use redline_checkers::Op;
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
                (
                    name,
                    admin::replication_and_persistence(*addr, INTERVAL).await,
                )
            }))
            .await;
            for (name, sample) in samples {
                let Ok((replication, persistence)) = sample else {
                    continue;
                };
                recorder.record(record(name, &replication, &persistence));
            }
        }
    });
}

/// One node's sample: its `INFO replication` fields, with its persistence fields under
/// `persistence`.
fn record(node: &str, replication: &admin::Replication, persistence: &Persistence) -> Op {
    let mut op = sample_record(
        0,
        node,
        serde_json::to_value(replication).unwrap_or_default(),
    );
    if let (Some(map), Ok(p)) = (op.value.as_object_mut(), serde_json::to_value(persistence)) {
        map.insert(Persistence::FIELD.to_string(), p);
    }
    op
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::telemetry::Telemetry;

    /// What the checkers read back is what was sampled, and a quiet node's persistence costs
    /// a few dozen bytes.
    #[test]
    fn a_record_carries_both_sections_and_reads_back() {
        let replication = admin::Replication {
            role: "master".into(),
            master_repl_offset: 420,
            ..admin::Replication::default()
        };
        let quiet = Persistence {
            aof_enabled: 1,
            rdb_changes_since_last_save: 123456,
            ..Persistence::default()
        };
        let op = record("n1", &replication, &quiet);
        assert_eq!(op.value["master_repl_offset"], 420);
        let part = op.value[Persistence::FIELD].to_string();
        assert!(part.len() < 60, "{part}");
        let busy = Persistence {
            aof_pending_bio_fsync: 1,
            aof_buffer_length: 48213,
            ..quiet
        };
        let mut op = record("n1", &replication, &busy);
        op.time = 7;
        let telemetry = Telemetry::from_records(&[op]);
        let back = telemetry.persistence_before("n1", 7).unwrap();
        assert_eq!(back.persistence, busy);
    }

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
