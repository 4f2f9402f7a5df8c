//! After the workload: heal every fault, bring every node back, converge replication, and read
//! everything from every node (`final` reads), recording each step in the history.

use crate::cluster::backend::Backend;
use crate::cluster::convergence::{self, Convergence};
use crate::cluster::sentinel_events::topology_op;
use crate::recorder::Recorder;
use anyhow::Result;
use redline_checkers::{Function, Op, OpType, Process};
use redline_workloads::{final_read_invocations, Client, Endpoint, WorkloadConfig};
use serde_json::json;
use std::time::Duration;

/// Attempts per final read: a read that fails (say, a node still loading its data) is retried.
const FINAL_READ_ATTEMPTS: usize = 5;

/// Heals every fault and restarts every dead process; records it as one nemesis op pair.
pub async fn heal<B: Backend>(cluster: &mut B, recorder: &Recorder) -> Result<()> {
    recorder.record(Op::new(
        0,
        0,
        Process::Nemesis,
        OpType::Invoke,
        Function::HealAll,
    ));
    let result = cluster.heal_all().await;
    let mut done = Op::new(0, 0, Process::Nemesis, OpType::Info, Function::HealAll);
    match &result {
        Ok(steps) => done.value = json!(steps),
        Err(e) => done.error = Some(format!("{e:#}")),
    }
    recorder.record(done);
    result.map(|_| ())
}

/// Converges replication (bounded) and records the outcome and the topology.
pub async fn converge<B: Backend>(
    cluster: &mut B,
    recorder: &Recorder,
    timeout: Duration,
) -> Result<Convergence> {
    let c = convergence::converge(cluster, timeout).await?;
    let mut op = Op::new(0, 0, Process::Observer, OpType::Info, Function::Converge);
    op.value = serde_json::to_value(&c)?;
    recorder.record(op);
    recorder.record(topology_op(&cluster.topology()));
    if !c.converged {
        tracing::warn!(
            "replication did not converge within {timeout:?}: {}",
            c.detail
        );
    }
    Ok(c)
}

/// Reads everything from every node directly (admin address: no proxy), each node under a
/// fresh process id starting at `first_process`.
pub async fn final_reads<B: Backend>(
    cluster: &B,
    cfg: &WorkloadConfig,
    recorder: &Recorder,
    first_process: u64,
) {
    let topology = cluster.topology();
    let mut process = first_process;
    for node in cluster.node_names() {
        let Some(addr) = cluster.admin_addr(&node) else {
            continue;
        };
        let endpoint = Endpoint {
            node: node.clone(),
            addr,
        };
        for invoke in final_read_invocations(cfg, &node, process) {
            for _attempt in 0..FINAL_READ_ATTEMPTS {
                let mut client = Client::new(cfg, topology.clone(), process);
                let invoke = recorder.record(Op {
                    process: Process::Client(process),
                    ..invoke.clone()
                });
                let mut completion = client.invoke_on(&invoke, &endpoint).await;
                completion.is_final = true;
                let outcome = completion.op_type;
                recorder.record(completion);
                if outcome != OpType::Info {
                    // A fail did nothing: the same process may try again.
                    if outcome == OpType::Ok {
                        break;
                    }
                } else {
                    process += 1;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        process += 1;
    }
}
