//! Forming a Redis Cluster from nodes that run with `cluster-enabled yes` and know nothing of
//! each other, as `redis-cli --cluster create` does, step by step so that each step can say
//! what it waited for:
//!
//! 1. every node's id (`CLUSTER MYID`);
//! 2. each first primary gets a config epoch of its own (`CLUSTER SET-CONFIG-EPOCH`, the
//!    shard's number), so no epoch collision has to be resolved later;
//! 3. each first primary takes its slots (`CLUSTER ADDSLOTSRANGE`, or `ADDSLOTS` on a server
//!    that lacks the range form);
//! 4. every node meets every other (`CLUSTER MEET ip port bus-port`, at the addresses they
//!    announce, so a proxy in front of a node's bus stays on the path), and the wait until every
//!    node knows every other one;
//! 5. each replica follows its shard's primary (`CLUSTER REPLICATE id`);
//! 6. the wait until the cluster serves: `cluster_state:ok` on every node, every slot assigned,
//!    every replica's link up ([`super::converge::whole`]).

use super::converge;
use super::nodes::parse_nodes;
use super::{NodeAddr, Sharding};
use crate::cluster::admin::{self, ADMIN_TIMEOUT};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One node to form the cluster with.
#[derive(Debug, Clone)]
pub struct FormNode {
    pub node: NodeAddr,
    /// The bus address it announces.
    pub bus: SocketAddr,
}

impl std::ops::Deref for FormNode {
    type Target = NodeAddr;
    fn deref(&self) -> &NodeAddr {
        &self.node
    }
}

/// Forms the cluster of `nodes` (named `n1`.. in the order of `sharding`); returns each node's
/// id by name. Each waiting step is bounded by `timeout`.
pub async fn form(
    sharding: &Sharding,
    nodes: &[FormNode],
    timeout: Duration,
) -> Result<BTreeMap<String, String>> {
    let mut ids = BTreeMap::new();
    for n in nodes {
        let id: String = admin::command(n.admin, redis::cmd("CLUSTER").arg("MYID"), ADMIN_TIMEOUT)
            .await
            .with_context(|| {
                format!(
                    "asking {} for its cluster id (is it in cluster mode?)",
                    n.name
                )
            })?;
        ids.insert(n.name.clone(), id);
    }
    let node = |name: &str| nodes.iter().find(|n| n.name == name);
    for shard in 1..=sharding.shards {
        let primary = sharding.initial_primary(shard);
        let p = node(&primary).with_context(|| format!("no node {primary}"))?;
        let epoch = redis::cmd("CLUSTER")
            .arg("SET-CONFIG-EPOCH")
            .arg(shard)
            .clone();
        let _: String = admin::command(p.admin, &epoch, ADMIN_TIMEOUT)
            .await
            .with_context(|| format!("giving {primary} config epoch {shard}"))?;
        add_slots(p, sharding.initial_slots(shard)).await?;
    }
    acquaint(nodes, timeout).await?;
    for shard in 1..=sharding.shards {
        let primary = sharding.initial_primary(shard);
        let id = &ids[&primary];
        for replica in sharding.members_of(shard).iter().skip(1) {
            let r = node(replica).with_context(|| format!("no node {replica}"))?;
            replicate(r, &primary, id, timeout).await?;
        }
    }
    let addrs: Vec<NodeAddr> = nodes.iter().map(|n| n.node.clone()).collect();
    converge::whole(&addrs, &ids, timeout).await?;
    Ok(ids)
}

/// `CLUSTER ADDSLOTSRANGE first last`, or `ADDSLOTS` with every slot where the server has no
/// range form (Redis before 7.0).
async fn add_slots(node: &FormNode, (first, last): (u16, u16)) -> Result<()> {
    let range = redis::cmd("CLUSTER")
        .arg("ADDSLOTSRANGE")
        .arg(first)
        .arg(last)
        .clone();
    if admin::command::<String>(node.admin, &range, ADMIN_TIMEOUT)
        .await
        .is_ok()
    {
        return Ok(());
    }
    let mut each = redis::cmd("CLUSTER");
    each.arg("ADDSLOTS");
    for slot in first..=last {
        each.arg(slot);
    }
    let _: String = admin::command(node.admin, &each, ADMIN_TIMEOUT)
        .await
        .with_context(|| format!("assigning slots {first}-{last} to {}", node.name))?;
    Ok(())
}

/// Every node meets every node after it, at the addresses the other announces.
async fn meet_everyone(nodes: &[FormNode]) -> Result<()> {
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            let meet = redis::cmd("CLUSTER")
                .arg("MEET")
                .arg(b.announce.ip().to_string())
                .arg(b.announce.port())
                .arg(b.bus.port())
                .clone();
            let _: String = admin::command(a.admin, &meet, ADMIN_TIMEOUT)
                .await
                .with_context(|| format!("{} meeting {} at {}", a.name, b.name, b.announce))?;
        }
    }
    Ok(())
}

/// How long one round of MEETs is given before the pairs are met again.
const MEET_ROUND: Duration = Duration::from_secs(4);

/// Every node meets every other, until each lists all of them. A handshake that does not
/// complete within the node timeout (a loaded machine) is dropped by the node that started it,
/// and gossip does not always bring the pair together again: each round that leaves a node
/// short meets every pair again (MEET is harmless between nodes that know each other).
async fn acquaint(nodes: &[FormNode], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        meet_everyone(nodes).await?;
        let round = MEET_ROUND.min(deadline.saturating_duration_since(Instant::now()));
        match await_acquainted(nodes, round).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                bail!("{e:#} ({timeout:?} after the first CLUSTER MEET)")
            }
            Err(e) => tracing::debug!("meeting every pair again: {e:#}"),
        }
    }
}

/// Waits until every node lists every node, none of them still in handshake.
async fn await_acquainted(nodes: &[FormNode], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    for n in nodes {
        loop {
            let text = admin::command::<String>(
                n.admin,
                redis::cmd("CLUSTER").arg("NODES"),
                ADMIN_TIMEOUT,
            )
            .await;
            let known = match text.as_deref().map(parse_nodes) {
                Ok(Ok(lines)) => lines.iter().filter(|l| !l.handshake).count(),
                _ => 0,
            };
            if known >= nodes.len() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} knows {known} of the {} nodes; is its cluster bus reachable?",
                    n.name,
                    nodes.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// `CLUSTER REPLICATE id` on `replica`, until it is accepted (it is refused while the replica
/// does not know `id` as a primary yet).
async fn replicate(replica: &FormNode, primary: &str, id: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let cmd = redis::cmd("CLUSTER").arg("REPLICATE").arg(id).clone();
    loop {
        match admin::command::<String>(replica.admin, &cmd, ADMIN_TIMEOUT).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!(
                    "{} could not become a replica of {primary} within {timeout:?}",
                    replica.name
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
