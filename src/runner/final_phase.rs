//! After the workload: heal every fault, bring every node back, converge replication, and read
//! everything from every node (`final` reads), recording each step in the history. The reads
//! themselves are the workload's ([`redline_workloads::read_node`]: its own timeout and
//! retries); this module only chooses the nodes and the process ids and records.

use super::cluster_watch::Watch;
use crate::cluster::backend::Backend;
use crate::cluster::convergence::{self, Convergence};
use crate::cluster::sentinel_events::topology_op;
use crate::cluster::sharded::{self, converge::ShardState};
use crate::recorder::Recorder;
use anyhow::Result;
use redline_checkers::{Function, Op, OpType, Process};
use redline_workloads::{read_node_where, Endpoint, Topology, WorkloadConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

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
        Err(e) => done.error = Some(format!("{e:#}").into()),
    }
    recorder.record(done);
    result.map(|_| ())
}

/// Which nodes read which keys at the end.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadPlan {
    /// Every key from every node (one master and its replicas).
    Everywhere,
    /// A cluster: each key from the nodes of the shard serving its slot, by node (a primary
    /// its own slots, a replica its primary's).
    BySlot(BTreeMap<String, Vec<(u16, u16)>>),
}

impl ReadPlan {
    /// On a cluster, the nodes that read each slot after `shards` converged.
    pub fn by_slot(shards: &[ShardState]) -> ReadPlan {
        let mut slots = BTreeMap::new();
        for s in shards {
            for node in std::iter::once(&s.primary).chain(&s.replicas) {
                slots.insert(node.clone(), s.slots.clone());
            }
        }
        ReadPlan::BySlot(slots)
    }

    /// Whether `node` reads the keys of `slot` (`None`: a key with no slot, read anywhere).
    pub fn reads(&self, node: &str, slot: Option<u16>) -> bool {
        match (self, slot) {
            (ReadPlan::Everywhere, _) | (_, None) => true,
            (ReadPlan::BySlot(by_node), Some(slot)) => by_node
                .get(node)
                .is_some_and(|r| r.iter().any(|&(a, b)| (a..=b).contains(&slot))),
        }
    }
}

/// Converges (bounded) and records the outcome and the topology; says who reads what at the
/// end. A cluster that did not converge is an error: which node serves which slot is then not
/// settled, and the final reads could not be judged.
pub async fn converge<B: Backend>(
    cluster: &mut B,
    recorder: &Recorder,
    watch: Option<&Watch>,
    timeout: Duration,
) -> Result<ReadPlan> {
    if let Some(watch) = watch {
        let c = sharded::converge::converge(cluster, timeout).await;
        let mut op = Op::new(0, 0, Process::Observer, OpType::Info, Function::Converge);
        op.value = serde_json::to_value(&c)?;
        recorder.record(op);
        watch.record_now().await;
        if !c.converged {
            anyhow::bail!(
                "the cluster did not converge within {timeout:?}: {}",
                c.detail
            );
        }
        return Ok(ReadPlan::by_slot(&c.shards));
    }
    standalone_converge(cluster, recorder, timeout).await?;
    Ok(ReadPlan::Everywhere)
}

/// Converges replication (bounded) and records the outcome and the topology.
async fn standalone_converge<B: Backend>(
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

/// Every data node at its admin address (no proxy: a final read is never cut by a fault).
pub fn final_read_nodes<B: Backend>(cluster: &B) -> (Vec<Endpoint>, Vec<String>) {
    let (mut nodes, mut missing) = (Vec::new(), Vec::new());
    for node in cluster.node_names() {
        match cluster.admin_addr(&node) {
            Some(addr) => nodes.push(Endpoint { node, addr }),
            None => missing.push(format!("{node} has no address to read from")),
        }
    }
    (nodes, missing)
}

/// Reads everything from every node in `nodes` directly (on a cluster, what `plan` says each
/// node serves), each node under fresh process ids starting at `first_process`, and records
/// every read. Returns the reads that never completed ok, described.
pub async fn final_reads(
    nodes: &[Endpoint],
    topology: &Topology,
    cfg: &WorkloadConfig,
    recorder: &Recorder,
    first_process: u64,
    plan: &ReadPlan,
) -> Vec<String> {
    let mut process = first_process;
    let mut unread = Vec::new();
    for node in nodes {
        let keep = |op: &Op| plan.reads(&node.node, op.slot);
        let record = |op| recorder.record(op);
        let read = read_node_where(cfg, topology, node, process, keep, record).await;
        process = read.next_process;
        unread.extend(read.unread);
    }
    unread
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_workloads::workload::set::Set;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A server that answers `SMEMBERS` after `delay`, with one member, and anything else (the
    /// client library's greetings) at once with `+OK`.
    fn slow_server(delay: Duration) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(8).flatten() {
                std::thread::spawn(move || serve(stream, delay));
            }
        });
        addr
    }

    fn serve(stream: std::net::TcpStream, delay: Duration) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let Ok(read_half) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(read_half);
        let mut writer = stream;
        let mut line = String::new();
        // One RESP array per command: `*N`, then N pairs of `$len` and value lines.
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            let parts: usize = line
                .trim()
                .get(1..)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let mut words = Vec::new();
            for _ in 0..parts {
                let mut len = String::new();
                let mut word = String::new();
                let _ = reader.read_line(&mut len);
                let _ = reader.read_line(&mut word);
                words.push(word.trim().to_ascii_uppercase());
            }
            let reply: &[u8] = if words.first().map(String::as_str) == Some("SMEMBERS") {
                std::thread::sleep(delay);
                b"*1\r\n$1\r\n7\r\n"
            } else {
                b"+OK\r\n"
            };
            let _ = writer.write_all(reply);
            line.clear();
        }
    }

    /// The runner once had its own copy of the final reads, which ran them under the 1 s
    /// operation timeout: a node answering in 1.5 s was never read. They run under the
    /// workload's final-read timeout now, whatever `--op-timeout` says.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn final_reads_wait_longer_than_the_operation_timeout() {
        let addr = slow_server(Duration::from_millis(1500));
        let nodes = [Endpoint {
            node: "n1".into(),
            addr,
        }];
        let topology = Topology::new(&[("n1".to_string(), addr)], "n1");
        let cfg = WorkloadConfig {
            op_timeout: Duration::from_millis(1000),
            ..WorkloadConfig::new(&Set)
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let recorder = Recorder::create(&path, std::time::Instant::now()).unwrap();
        let unread = final_reads(
            &nodes,
            &topology,
            &cfg,
            &recorder,
            100,
            &ReadPlan::Everywhere,
        )
        .await;
        assert!(unread.is_empty(), "{unread:?}");
        let history = std::fs::read_to_string(&path).unwrap();
        let completion: serde_json::Value =
            serde_json::from_str(history.lines().nth(1).unwrap()).unwrap();
        assert_eq!(completion["type"], "ok", "{history}");
        assert_eq!(completion["value"], json!([7]));
        assert_eq!(completion["final"], true);
    }
}
