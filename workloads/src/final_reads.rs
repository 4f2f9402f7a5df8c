//! Final reads: after the harness has healed the cluster, read everything the workload wrote
//! from one node directly, whatever its role, so the checkers can compare nodes.

use crate::client::Client;
use crate::config::WorkloadConfig;
use crate::generator::history_keys;
use crate::topology::{Endpoint, Topology};
use redline_checkers::{Function, Op, OpType, Process, WorkloadKind};
use serde_json::{json, Value};
use std::time::Duration;

/// Final reads get at least this long: a whole set can be large, and the cluster is healed.
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The invocations of the final reads of `process` on `node`: one `read` per set, register or
/// counter key; for list-append one `txn` reading every key. All marked `final`, with `node` set.
pub fn final_read_invocations(cfg: &WorkloadConfig, node: &str, process: u64) -> Vec<Op> {
    let invoke = |f: Function| Op {
        node: Some(node.to_string()),
        is_final: true,
        ..Op::new(0, 0, Process::Client(process), OpType::Invoke, f)
    };
    if cfg.kind == WorkloadKind::ListAppend {
        let reads: Vec<Value> = (0..cfg.key_count() as u64)
            .map(|k| json!(["r", k, null]))
            .collect();
        return vec![Op {
            value: Value::Array(reads),
            ..invoke(Function::Txn)
        }];
    }
    history_keys(cfg)
        .into_iter()
        .map(|key| Op {
            key: Some(key),
            ..invoke(Function::Read)
        })
        .collect()
}

/// Reads everything the workload wrote from `node` directly; returns (invocation, completion)
/// pairs with index and time 0, in order, for the harness to stamp and record. A read that
/// fails completes `fail` (see [`crate::outcome`]); the harness may retry.
pub async fn final_reads(
    cfg: &WorkloadConfig,
    topology: &Topology,
    node: &Endpoint,
    process: u64,
) -> Vec<(Op, Op)> {
    let cfg = WorkloadConfig {
        op_timeout: cfg.op_timeout.max(FINAL_READ_TIMEOUT),
        ..cfg.clone()
    };
    let mut client = Client::new(&cfg, topology.clone(), process);
    let mut pairs = Vec::new();
    for invoke in final_read_invocations(&cfg, &node.node, process) {
        let mut completion = client.invoke_on(&invoke, node).await;
        completion.is_final = true;
        pairs.push((invoke, completion));
    }
    pairs
}
