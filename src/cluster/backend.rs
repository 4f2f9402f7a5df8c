//! What the runner, the nemesis and the final phase need from a cluster, whatever it runs on:
//! the local proxy cluster or one network namespace per node. Faults come from the capability
//! traits; this trait adds the layout, addresses and lifecycle.

use super::admin::{self, ServerIdentity};
use super::capabilities::{Kill, LinkDelay, Partition, Pause, Promote};
use super::process::ProcessState;
use anyhow::{Context, Result};
use redline_workloads::Topology;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A running cluster of this run. Dropping it stops everything it started.
#[allow(async_fn_in_trait)]
pub trait Backend: Kill + Pause + Partition + LinkDelay + Promote {
    /// The client view (addresses clients use; Sentinel discovery when enabled).
    fn topology(&self) -> Topology;
    /// Data nodes, in name order (`n1`, `n2`, ...).
    fn node_names(&self) -> Vec<String>;
    fn sentinel_names(&self) -> Vec<String>;
    /// Where the harness sends its own commands to a node or Sentinel: never cut by a fault.
    fn admin_addr(&self, name: &str) -> Option<SocketAddr>;
    /// Where clients, replicas and Sentinels reach a node: what faults act on.
    fn client_addr(&self, name: &str) -> Option<SocketAddr>;
    /// The node reached at a client address (Sentinel reports client addresses).
    fn node_at(&self, addr: SocketAddr) -> Option<String>;
    /// Admin addresses of the Sentinels.
    fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)>;
    /// Whether a node or Sentinel is running, paused or dead.
    fn state(&mut self, name: &str) -> Option<ProcessState>;
    /// Folders of every node and Sentinel (config, log, data).
    fn node_dirs(&self) -> Vec<(String, PathBuf)>;
    /// What the servers say they are.
    fn server(&self) -> &ServerIdentity;
    /// Lifts every fault: resumes paused processes, starts dead ones, removes every link rule.
    async fn heal_all(&mut self) -> Result<Vec<String>>;
    /// Stops every process and removes everything the backend created. Idempotent.
    fn teardown(&mut self);

    /// The master as the harness last made or saw it.
    fn master(&self) -> String {
        self.topology()
            .master()
            .map(|e| e.node)
            .unwrap_or_else(|| "n1".to_string())
    }

    /// Records that `node` is the master now.
    fn set_master(&mut self, node: &str) {
        self.topology().set_master(node);
    }
}

/// Manual failover as an operator does it: `REPLICAOF NO ONE` on `node`, declare it master
/// (clients follow), then every other running node replicates from it. Nodes that are down or
/// paused are repointed when they come back (their restart config, or convergence).
pub async fn promote_by_replicaof<B: Backend>(cluster: &mut B, node: &str) -> Result<()> {
    let addr = cluster
        .admin_addr(node)
        .with_context(|| format!("no node {node}"))?;
    admin::replicaof(addr, None)
        .await
        .with_context(|| format!("REPLICAOF NO ONE on {node}"))?;
    let new_master = cluster
        .client_addr(node)
        .context("the new master's address")?;
    cluster.set_master(node);
    for other in cluster.node_names().into_iter().filter(|n| n != node) {
        if cluster.state(&other) != Some(ProcessState::Running) {
            continue;
        }
        let addr = cluster.admin_addr(&other).context("node address")?;
        if let Err(e) = admin::replicaof(addr, Some(new_master)).await {
            tracing::warn!("repointing {other} to {node}: {e:#}");
        }
    }
    Ok(())
}

/// What a node's config should say when the harness restarts it after a kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartConfig {
    /// Leave the config as the server and Sentinel last rewrote it: with Sentinels, Sentinel
    /// reconfigures the node, as in production.
    Keep,
    /// Without Sentinels the harness owns the topology: rewrite the config so the node
    /// replicates from the current master (`None`: it is the master).
    Write { replica_of: Option<SocketAddr> },
}

/// The one place that decides [`RestartConfig`] for every backend.
pub fn restart_config<B: Backend>(cluster: &B, node: &str) -> RestartConfig {
    if !cluster.sentinel_names().is_empty() {
        return RestartConfig::Keep;
    }
    let master = cluster.master();
    let replica_of = (node != master)
        .then(|| cluster.client_addr(&master))
        .flatten();
    RestartConfig::Write { replica_of }
}
