//! When a cluster is whole: after forming it, and after healing every fault before the final
//! reads. Whole means:
//!
//! - every node answers and reports `cluster_state:ok`;
//! - no slot is left open by a migration (one that was cut short is finished here, rolled
//!   forward to its destination, as `redis-cli --cluster fix` would);
//! - every node has the same slot map, every one of the 16384 slots is covered, and no two
//!   primaries claim one slot: one primary per shard;
//! - every other node is a replica of one of those primaries, its link up and its offset at its
//!   primary's.
//!
//! The judgement of a view ([`judge`]) is pure; [`settle`] fetches views until it passes or
//! time runs out. Nothing is repointed by hand: in a cluster the bus decides roles (a deposed
//! primary that comes back becomes a replica of whoever took its slots, and drops the writes
//! it acknowledged meanwhile, as in production).

use super::migrate;
use super::view::ClusterView;
use super::{node_addrs, NodeAddr, SLOTS};
use crate::cluster::admin::{self, ADMIN_TIMEOUT};
use crate::cluster::backend::Backend;
use crate::cluster::convergence;
use anyhow::{bail, Context, Result};
use redline_workloads::cluster::keys;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One primary with its slots and replicas, as the converged cluster has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardState {
    pub primary: String,
    pub slots: Vec<(u16, u16)>,
    pub replicas: Vec<String>,
}

/// How a cluster ended up before the final reads.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterConvergence {
    pub converged: bool,
    /// Why it did not converge in time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The shards as every node agreed on them (empty when they never did).
    pub shards: Vec<ShardState>,
    /// Slots a migration had left open that were finished here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finished_slots: Vec<u16>,
}

/// What stops `view` of `nodes` from being whole, or the shards when nothing does.
pub fn judge(view: &ClusterView, nodes: &[String]) -> Result<Vec<ShardState>, String> {
    if let Some((node, why)) = view.unreachable.first() {
        return Err(format!("{node} does not answer: {why}"));
    }
    for node in nodes {
        let v = view
            .view(node)
            .ok_or_else(|| format!("no view of {node}"))?;
        if !v.info.state_ok {
            return Err(format!("{node} reports cluster_state:fail"));
        }
    }
    if let Some(open) = view.open_slots().first() {
        let (how, dir) = match open.importing {
            true => ("importing", "from"),
            false => ("migrating", "to"),
        };
        return Err(format!(
            "slot {} is still {how} on {} ({dir} {})",
            open.slot, open.node, open.peer
        ));
    }
    let first = nodes.first().ok_or("no nodes")?;
    let map = view.map_of(first);
    for node in &nodes[1..] {
        if view.map_of(node) != map {
            return Err(format!(
                "{node} and {first} do not agree on the slot map yet"
            ));
        }
    }
    check_coverage(&map)?;
    let mut shards: BTreeMap<String, ShardState> = map
        .iter()
        .map(|(p, slots)| {
            let state = ShardState {
                primary: p.clone(),
                slots: slots.clone(),
                replicas: Vec::new(),
            };
            (p.clone(), state)
        })
        .collect();
    for node in nodes.iter().filter(|n| !map.contains_key(*n)) {
        let primary = view
            .following(node)
            .ok_or_else(|| format!("{node} is a primary without slots"))?;
        let shard = shards
            .get_mut(&primary)
            .ok_or_else(|| format!("{node} follows {primary}, which serves no slot"))?;
        shard.replicas.push(node.clone());
    }
    Ok(shards.into_values().collect())
}

/// Every slot covered once.
fn check_coverage(map: &BTreeMap<String, Vec<(u16, u16)>>) -> Result<(), String> {
    let mut owner: Vec<Option<&str>> = vec![None; SLOTS as usize];
    for (node, ranges) in map {
        for &(a, b) in ranges {
            for slot in a..=b {
                if let Some(other) = owner[slot as usize].replace(node) {
                    return Err(format!("{node} and {other} both claim slot {slot}"));
                }
            }
        }
    }
    match owner.iter().position(Option::is_none) {
        Some(slot) => Err(format!("slot {slot} is served by no primary")),
        None => Ok(()),
    }
}

/// Whether every replica's link is up and at its primary's offset; why not otherwise.
async fn caught_up(shards: &[ShardState], nodes: &[NodeAddr]) -> Result<Option<String>> {
    let admin_of = |name: &str| {
        nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.admin)
            .with_context(|| format!("no address for {name}"))
    };
    for shard in shards {
        let primary = admin::replication(admin_of(&shard.primary)?, ADMIN_TIMEOUT).await?;
        for replica in &shard.replicas {
            let r = admin::replication(admin_of(replica)?, ADMIN_TIMEOUT).await?;
            if !r.link_up() {
                return Ok(Some(format!(
                    "{replica}'s link to {} is not up",
                    shard.primary
                )));
            }
            if r.replica_offset.unwrap_or(-1) < primary.master_repl_offset {
                return Ok(Some(format!(
                    "{replica} is at offset {:?}, its primary {} at {}",
                    r.replica_offset, shard.primary, primary.master_repl_offset
                )));
            }
        }
    }
    Ok(None)
}

/// Fetches views of `nodes` until the cluster is whole and caught up, or `timeout` passes;
/// with `finish`, slots left open are finished on the way.
pub async fn settle(
    nodes: &[NodeAddr],
    ids: &BTreeMap<String, String>,
    timeout: Duration,
    finish: bool,
) -> ClusterConvergence {
    let deadline = Instant::now() + timeout;
    let pairs: Vec<(String, std::net::SocketAddr)> =
        nodes.iter().map(|n| (n.name.clone(), n.admin)).collect();
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut outcome = ClusterConvergence {
        converged: false,
        detail: String::new(),
        shards: Vec::new(),
        finished_slots: Vec::new(),
    };
    while Instant::now() < deadline {
        let view = ClusterView::fetch(&pairs, ids, ADMIN_TIMEOUT).await;
        if finish && !view.open_slots().is_empty() {
            match migrate::finish_open_slots(&view, nodes).await {
                Ok(done) => outcome.finished_slots.extend(done),
                Err(e) => outcome.detail = format!("finishing open slots: {e:#}"),
            }
        }
        match judge(&view, &names) {
            Err(why) => outcome.detail = why,
            Ok(shards) => match caught_up(&shards, nodes).await {
                Ok(None) => {
                    outcome.converged = true;
                    outcome.detail.clear();
                    outcome.shards = shards;
                    return outcome;
                }
                Ok(Some(why)) => outcome.detail = why,
                Err(e) => outcome.detail = format!("{e:#}"),
            },
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outcome
}

/// Waits until a cluster being formed is whole; an error says what it was still waiting for.
pub async fn whole(
    nodes: &[NodeAddr],
    ids: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<()> {
    let outcome = settle(nodes, ids, timeout, false).await;
    if !outcome.converged {
        bail!(
            "the cluster was not whole {timeout:?} after it was formed: {}",
            outcome.detail
        );
    }
    Ok(())
}

/// Waits until replication streams in every shard: a probe write on each primary, to a key of
/// its own slots, acknowledged by all of its replicas (see
/// [`convergence::await_streaming`](crate::cluster::convergence::await_streaming) for why
/// linked is not enough).
pub async fn await_streaming<B: Backend>(cluster: &B, timeout: Duration) -> Result<()> {
    let layout = cluster.sharded().context("not a cluster")?;
    let s = layout.sharding;
    for shard in 1..=s.shards {
        let primary = s.initial_primary(shard);
        let addr = cluster
            .admin_addr(&primary)
            .with_context(|| format!("{primary}'s address"))?;
        let key = format!("redline:probe{{{}}}", keys::tag(shard - 1, s.shards));
        convergence::probe_acked(addr, &key, s.replicas, timeout)
            .await
            .with_context(|| format!("shard {shard} ({primary})"))?;
    }
    Ok(())
}

/// Converges a running cluster after healing (see the module doc).
pub async fn converge<B: Backend>(cluster: &B, timeout: Duration) -> ClusterConvergence {
    let ids = cluster.sharded().map(|s| s.ids).unwrap_or_default();
    settle(&node_addrs(cluster), &ids, timeout, true).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::sharded::view::tests::{node_view, three};

    fn names() -> Vec<String> {
        vec!["n1".into(), "n2".into(), "n3".into()]
    }

    #[test]
    fn a_whole_cluster_passes_with_its_shards() {
        let views = names()
            .iter()
            .map(|n| node_view(n, true, &three(n)))
            .collect();
        let shards = judge(&ClusterView::of(views, &BTreeMap::new()), &names()).unwrap();
        assert_eq!(shards.len(), 2);
        assert_eq!(shards[0].primary, "n1");
        assert_eq!(shards[0].replicas, vec!["n2"]);
        assert!(shards[1].replicas.is_empty());
    }

    #[test]
    fn a_failing_node_or_a_gap_or_a_disagreement_is_not_whole() {
        let mut views: Vec<_> = names()
            .iter()
            .map(|n| node_view(n, true, &three(n)))
            .collect();
        views[2].info.state_ok = false;
        let e = judge(&ClusterView::of(views.clone(), &BTreeMap::new()), &names()).unwrap_err();
        assert!(e.contains("n3 reports cluster_state:fail"), "{e}");
        views[2] = node_view("n3", true, &three("n3").replace("8192-16383", "8192-16382"));
        let e = judge(&ClusterView::of(views.clone(), &BTreeMap::new()), &names()).unwrap_err();
        assert!(e.contains("do not agree"), "{e}");
        let gap: Vec<_> = names()
            .iter()
            .map(|n| node_view(n, true, &three(n).replace("8192-16383", "8192-16382")))
            .collect();
        let e = judge(&ClusterView::of(gap, &BTreeMap::new()), &names()).unwrap_err();
        assert!(e.contains("slot 16383 is served by no primary"), "{e}");
        let open: Vec<_> = names()
            .iter()
            .map(|n| node_view(n, true, &three(n).replace("0-8191", "0-8191 [5->-c]")))
            .collect();
        let e = judge(&ClusterView::of(open, &BTreeMap::new()), &names()).unwrap_err();
        assert!(e.contains("slot 5 is still migrating on n1 (to n3)"), "{e}");
    }
}
