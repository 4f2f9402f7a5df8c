//! Replication telemetry: every 250 ms, `INFO replication` from every node that answers, as
//! observer records in `telemetry.jsonl`. The checkers and the report use it to explain anomalies
//! (a lost write's offset against the promoted replica's offset; lag under a delayed link).

use crate::cluster::admin;
use crate::recorder::Recorder;
use futures_util::future::join_all;
use redline_checkers::{Function, Op, OpType, Process};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinHandle;

pub const INTERVAL: Duration = Duration::from_millis(250);

/// Samples until the returned task is aborted. A paused or dead node simply has no sample for
/// that tick; sampling never waits for it longer than the interval.
pub fn spawn(nodes: Vec<(String, SocketAddr)>, recorder: Recorder) -> JoinHandle<()> {
    tokio::spawn(async move {
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
    })
}
