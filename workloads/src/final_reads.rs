//! Final reads: after the harness has healed the cluster, read everything the workload wrote
//! from one node directly, whatever its role, so the checkers can compare nodes. This is the
//! one implementation: the runner and the tests both call it.
//!
//! Each read runs under at least [`FINAL_READ_TIMEOUT`] (a whole set can be large, and nothing
//! is faulted any more, so a slow answer is worth waiting for) and is tried up to
//! [`FINAL_READ_ATTEMPTS`] times: a node still loading its data answers `LOADING` for a while.
//! A read that failed did nothing, so the same process tries again; one that ended `info` (a
//! list-append read transaction cut short) ends its process, and the next try is a new one.

use crate::client::Client;
use crate::config::WorkloadConfig;
use crate::topology::{Endpoint, Topology};
use redline_checkers::{Op, OpType, Process};
use std::time::Duration;

/// Final reads get at least this long each.
pub const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per final read.
pub const FINAL_READ_ATTEMPTS: usize = 5;
/// The pause between two tries of one final read.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The final reads of one node.
#[derive(Debug, Default)]
pub struct NodeReads {
    /// Every (invocation, completion) pair, retries included, as recorded.
    pub pairs: Vec<(Op, Op)>,
    /// The first process id not used by these reads.
    pub next_process: u64,
    /// The reads that never completed ok, described (`read set`, `txn`), with the last error.
    pub unread: Vec<String>,
}

/// The invocations of the final reads of `process` on `node`, marked `final`.
pub fn final_read_invocations(cfg: &WorkloadConfig, node: &str, process: u64) -> Vec<Op> {
    cfg.workload
        .final_reads(cfg)
        .into_iter()
        .map(|op| Op {
            process: Process::Client(process),
            node: Some(node.into()),
            is_final: true,
            slot: cfg.is_cluster().then(|| cfg.slot_of(&op)).flatten(),
            ..op
        })
        .collect()
}

/// Reads everything the workload wrote from `node` directly, starting with process
/// `first_process`. `record` is called with each invocation just before it is sent and with
/// each completion as it arrives, and returns the op as recorded (the harness stamps index and
/// time there, so the history's real-time order holds).
pub async fn read_node(
    cfg: &WorkloadConfig,
    topology: &Topology,
    node: &Endpoint,
    first_process: u64,
    record: impl FnMut(Op) -> Op,
) -> NodeReads {
    read_node_where(cfg, topology, node, first_process, |_| true, record).await
}

/// [`read_node`] of the final reads `keep` selects (on a cluster, a node reads the keys of the
/// slots its shard serves).
pub async fn read_node_where(
    cfg: &WorkloadConfig,
    topology: &Topology,
    node: &Endpoint,
    first_process: u64,
    keep: impl Fn(&Op) -> bool,
    mut record: impl FnMut(Op) -> Op,
) -> NodeReads {
    let cfg = WorkloadConfig {
        op_timeout: cfg.op_timeout.max(FINAL_READ_TIMEOUT),
        ..cfg.clone()
    };
    let mut process = first_process;
    let mut client = Client::new(&cfg, topology.clone(), process);
    let mut out = NodeReads::default();
    for template in final_read_invocations(&cfg, &node.node, process)
        .into_iter()
        .filter(|op| keep(op))
    {
        let mut last_error = None;
        for attempt in 0..FINAL_READ_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            let invoke = record(Op {
                process: Process::Client(process),
                ..template.clone()
            });
            let mut completion = client.invoke_on(&invoke, node).await;
            completion.is_final = true;
            let completion = record(completion);
            let outcome = completion.op_type;
            last_error = completion.error.clone();
            out.pairs.push((invoke, completion));
            match outcome {
                OpType::Ok => {
                    last_error = None;
                    break;
                }
                OpType::Info => {
                    process += 1;
                    client = Client::new(&cfg, topology.clone(), process);
                }
                _ => {}
            }
        }
        if let Some(error) = last_error {
            let what = match &template.key {
                Some(key) => format!("{} {key}", template.f),
                None => template.f.to_string(),
            };
            out.unread.push(format!("{what} on {}: {error}", node.node));
        }
    }
    out.next_process = process + 1;
    out
}

/// [`read_node`] without a history: the (invocation, completion) pairs, with index and time 0.
pub async fn final_reads(
    cfg: &WorkloadConfig,
    topology: &Topology,
    node: &Endpoint,
    process: u64,
) -> Vec<(Op, Op)> {
    read_node(cfg, topology, node, process, |op| op).await.pairs
}
