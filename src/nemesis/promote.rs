//! Manual failover as an operator does it, on any backend: it needs nothing of a backend but
//! the harness's own address of each node, so it is a nemesis action, not a capability.

use crate::cluster::admin;
use crate::cluster::backend::Backend;
use crate::cluster::process::ProcessState;
use anyhow::{Context, Result};

/// `REPLICAOF NO ONE` on `node`, declare it master (clients follow), then every other running
/// node replicates from it. Nodes that are down or paused are repointed when they come back
/// (their restart config, or convergence); a node that cannot be repointed now is only logged,
/// since the promotion itself happened.
pub async fn promote<B: Backend>(cluster: &mut B, node: &str) -> Result<()> {
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
