//! On the cluster topology, the primary timeline: every node's view of itself (`CLUSTER
//! NODES`, `CLUSTER INFO`), sampled every 250 ms through the harness's own addresses, and
//! recorded in the history as a `topology` record whenever some node's view changes (see
//! `redline_checkers::history::cluster_value`). The checkers find each shard's primaries, the
//! windows in which two nodes claimed one slot, and the change that dropped a lost write, in
//! these records.

use super::tasks::Background;
use super::telemetry::INTERVAL;
use crate::cluster::admin::ADMIN_TIMEOUT;
use crate::cluster::backend::Backend;
use crate::cluster::sharded::view::ClusterView;
use crate::cluster::sharded::ShardedLayout;
use crate::recorder::Recorder;
use redline_checkers::history::cluster_value::{cluster_value, describe_changes, ClusterNodes};
use redline_checkers::{Function, Op, OpType, Process};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Watches a cluster's nodes and records their views in the history.
#[derive(Clone)]
pub struct Watch {
    nodes: Vec<(String, SocketAddr)>,
    layout: ShardedLayout,
    recorder: Recorder,
    /// The views last recorded, and when the last sample began (ns).
    last: Arc<Mutex<(ClusterNodes, u64)>>,
}

impl Watch {
    /// A watch of `cluster`'s nodes recording into `recorder`; `None` on the standalone
    /// topology.
    pub fn of<B: Backend>(cluster: &B, recorder: &Recorder) -> Option<Watch> {
        let layout = cluster.sharded()?;
        let nodes = cluster
            .node_names()
            .into_iter()
            .filter_map(|n| Some((n.clone(), cluster.admin_addr(&n)?)))
            .collect();
        Some(Watch {
            nodes,
            layout,
            recorder: recorder.clone(),
            last: Arc::default(),
        })
    }

    /// Samples every node once and records the views if they changed (always, with `force`).
    /// A change happened after the previous sample began and before this record: the record
    /// says when that was, so a checker knows how late it may be.
    async fn sample(&self, force: bool, timeout: Duration) {
        let began = self.recorder.now_ns();
        let view = ClusterView::fetch(&self.nodes, &self.layout.ids, timeout).await;
        let (last, previous) = self.last.lock().map(|l| l.clone()).unwrap_or_default();
        let now = view.node_records(&self.layout, &last);
        if force || now != last {
            let changes = describe_changes(&last, &now);
            let mut op = Op::new(0, 0, Process::Observer, OpType::Info, Function::Topology);
            op.value = cluster_value(&now, &changes, previous);
            self.recorder.record(op);
        }
        if let Ok(mut l) = self.last.lock() {
            *l = (now, began);
        }
    }

    /// Records the views now (before the first client operation, and after convergence).
    pub async fn record_now(&self) {
        self.sample(true, ADMIN_TIMEOUT).await
    }

    /// Samples in a task of `background` for as long as the run holds it.
    pub fn spawn(&self, background: &mut Background) {
        let watch = self.clone();
        background.spawn(async move {
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                watch.sample(false, INTERVAL).await;
            }
        });
    }
}
