//! Faults on a Redis Cluster, shard by shard. Each fault looks at the cluster as its nodes see
//! it at that moment ([`ClusterView`]) and chooses one shard with the step's `pick`:
//!
//! | fault | on a cluster |
//! |---|---|
//! | `kill:master`, `pause:master` | the primary of one shard |
//! | `kill:replica`, `pause:replica` | one replica, of any shard |
//! | `kill:all-replicas`, ... | every replica of one shard |
//! | `kill:random`, ... | any node |
//! | `partition:isolate-master` | one shard's primary cut from everyone, its clients too |
//! | `partition:minority` | one shard's primary cut from every other node while its clients still reach it: Redis Cluster's documented window, in which it acknowledges writes until `cluster-node-timeout` passes and a replica of the majority side takes its slots |
//! | `partition:replication-cut` | one shard's primary cut from its own replicas |
//! | `partition:isolate-replica` | one replica cut from everyone |
//! | `partition:halves` | the nodes in two random halves; clients reach both |
//! | `delay:replica-links` | one shard's primary and its replicas |
//! | `failover:cluster[-force\|-takeover]` | `CLUSTER FAILOVER [FORCE\|TAKEOVER]` on a replica of one shard |
//! | `migrate[:classic\|:atomic]` | slots holding keys, from one shard's primary to another's |

use super::grudge::{self, Cut};
use super::spec::{ClusterFailover, DelayTarget, Grudge, Target};
use crate::cluster::admin::{self, ADMIN_TIMEOUT};
use crate::cluster::backend::Backend;
use crate::cluster::process::ProcessState;
use crate::cluster::sharded::migrate::{self, Move, Way};
use crate::cluster::sharded::view::ClusterView;
use crate::cluster::sharded::{node_addrs, ShardedLayout};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How many keys a migration looks at to choose its slots.
const KEYS_SCANNED: usize = 10_000;

/// The cluster at the moment of a fault.
pub struct Look {
    pub layout: ShardedLayout,
    pub view: ClusterView,
}

impl Look {
    /// Fetches every node's view of `cluster`.
    pub async fn of<B: Backend>(cluster: &B) -> Result<Look> {
        let layout = cluster.sharded().context("not a cluster")?;
        let nodes: Vec<(String, SocketAddr)> = cluster
            .node_names()
            .into_iter()
            .filter_map(|n| Some((n.clone(), cluster.admin_addr(&n)?)))
            .collect();
        let view = ClusterView::fetch(&nodes, &layout.ids, ADMIN_TIMEOUT).await;
        Ok(Look { layout, view })
    }

    /// The shard (1-based) `pick` chooses.
    pub fn shard(&self, pick: u64) -> usize {
        (pick % self.layout.sharding.shards.max(1) as u64) as usize + 1
    }

    /// Shard `shard`'s primary now.
    pub fn primary(&self, shard: usize) -> Result<String> {
        let members = self.layout.sharding.members_of(shard);
        self.view
            .primary_among(&members)
            .with_context(|| format!("shard {shard} has no primary now ({members:?})"))
    }

    /// The replicas of shard `shard`'s primary now.
    pub fn replicas(&self, shard: usize) -> Result<Vec<String>> {
        Ok(self.view.replicas_of(&self.primary(shard)?))
    }

    /// Every node's name.
    fn nodes(&self) -> Vec<String> {
        self.layout.ids.keys().cloned().collect()
    }

    /// Every replica of any shard.
    fn all_replicas(&self) -> Vec<String> {
        self.nodes()
            .into_iter()
            .filter(|n| self.view.following(n).is_some())
            .collect()
    }
}

/// The running nodes a kill or pause hits.
pub fn targets<B: Backend>(c: &mut B, look: &Look, t: Target, pick: u64) -> Result<Vec<String>> {
    let shard = look.shard(pick);
    let chosen = match t {
        Target::Master => vec![look.primary(shard)?],
        Target::AllReplicas => look.replicas(shard)?,
        Target::Replica => pick_one(&look.all_replicas(), pick / 7),
        Target::Random => pick_one(&look.nodes(), pick / 7),
    };
    let running: Vec<String> = chosen
        .into_iter()
        .filter(|n| c.state(n) == Some(ProcessState::Running))
        .collect();
    if running.is_empty() {
        bail!("no running node matches the target in shard {shard}");
    }
    Ok(running)
}

fn pick_one(items: &[String], pick: u64) -> Vec<String> {
    grudge::pick_from(items, pick).into_iter().collect()
}

/// The links a partition cuts.
pub fn cut(look: &Look, g: Grudge, pick: u64) -> Result<Cut> {
    let shard = look.shard(pick);
    let everyone = look.nodes();
    let others =
        |n: &str| -> Vec<String> { everyone.iter().filter(|x| *x != n).cloned().collect() };
    let with_clients = |mut v: Vec<String>| {
        v.push("clients".to_string());
        v
    };
    Ok(match g {
        Grudge::IsolateMaster => {
            let p = look.primary(shard)?;
            grudge::between(vec![p.clone()], with_clients(others(&p)))
        }
        Grudge::Minority => {
            let p = look.primary(shard)?;
            grudge::between(vec![p.clone()], others(&p))
        }
        Grudge::ReplicationCut => {
            let p = look.primary(shard)?;
            grudge::between(vec![p], look.replicas(shard)?)
        }
        Grudge::IsolateReplica => {
            let victim = grudge::pick_from(&look.all_replicas(), pick / 7)
                .context("no replica to isolate")?;
            grudge::between(vec![victim.clone()], with_clients(others(&victim)))
        }
        Grudge::Halves => {
            let mut all = everyone.clone();
            grudge::shuffle(&mut all, pick);
            let b = all.split_off(all.len() / 2);
            grudge::between(all, b)
        }
        Grudge::Majority => bail!("partition:majority needs Sentinels"),
    })
}

/// The links a delay slows: both directions of each.
pub fn delay_links(look: &Look, target: DelayTarget, pick: u64) -> Result<Vec<(String, String)>> {
    let (ends, others) = match target {
        DelayTarget::ReplicaLinks => {
            let shard = look.shard(pick);
            (vec![look.primary(shard)?], look.replicas(shard)?)
        }
        DelayTarget::ClientLinks => (look.nodes(), vec!["clients".to_string()]),
    };
    Ok(grudge::between(ends, others).links)
}

/// `CLUSTER FAILOVER [mode]` on a running replica of one shard; waits (bounded) until it calls
/// itself primary. Returns the record's value: the new primary (when it took over), the old
/// one, the shard and the mode.
pub async fn failover<B: Backend>(
    c: &mut B,
    look: &Look,
    mode: ClusterFailover,
    pick: u64,
) -> Result<Value> {
    let shard = look.shard(pick);
    let old = look.primary(shard)?;
    let running: Vec<String> = look
        .replicas(shard)?
        .into_iter()
        .filter(|n| c.state(n) == Some(ProcessState::Running))
        .collect();
    let replica = grudge::pick_from(&running, pick / 7)
        .with_context(|| format!("shard {shard} has no running replica to fail over to"))?;
    let addr = c.admin_addr(&replica).context("replica address")?;
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("FAILOVER");
    if let Some(arg) = mode.argument() {
        cmd.arg(arg);
    }
    let _: String = admin::command(addr, &cmd, ADMIN_TIMEOUT)
        .await
        .with_context(|| format!("CLUSTER FAILOVER on {replica}"))?;
    let took_over = await_primary(addr, Duration::from_secs(10)).await;
    Ok(json!({
        "node": took_over.then_some(&replica),
        "candidate": replica,
        "old_master": old,
        "shard": shard,
        "mode": super::spec::failover_name(super::spec::FailoverKind::Cluster(mode)),
    }))
}

/// Polls until the node at `addr` says it is a primary.
async fn await_primary(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let role = admin::replication(addr, Duration::from_millis(500)).await;
        if role.is_ok_and(|r| r.is_master()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Moves slots holding keys from one shard's primary to another's (`pick` chooses both and
/// which of the source's key slots go: about half, at least one). Returns the record's value.
pub async fn migrate<B: Backend>(c: &B, look: &Look, way: Way, pick: u64) -> Result<Value> {
    let shards = look.layout.sharding.shards;
    if shards < 2 {
        bail!("migrate needs two shards");
    }
    let from_shard = look.shard(pick);
    let to_shard = (from_shard + (pick / 3 % (shards as u64 - 1)) as usize) % shards + 1;
    let from = look.primary(from_shard)?;
    let to = look.primary(to_shard)?;
    let from_addr = c.admin_addr(&from).context("source address")?;
    let slots = slots_to_move(from_addr, look, &from, pick).await?;
    let m = Move {
        slots,
        from,
        to,
        way,
    };
    let moved = migrate::run(&m, &node_addrs(c), &look.layout.ids).await?;
    Ok(json!({
        "from": m.from,
        "to": m.to,
        "from_shard": from_shard,
        "to_shard": to_shard,
        "way": way,
        "slots": crate::cluster::sharded::nodes::ranges(moved.slots.iter().copied()),
        "keys": moved.keys,
    }))
}

/// About half of the slots that hold keys on `from` (the ones the workload uses), chosen by
/// `pick`; without keys, the first 16 slots it serves.
async fn slots_to_move(addr: SocketAddr, look: &Look, from: &str, pick: u64) -> Result<Vec<u16>> {
    let mut slots: Vec<u16> = scan_keys(addr)
        .await?
        .iter()
        .map(|k| redline_workloads::cluster::slot::hash_slot(k))
        .collect();
    slots.sort_unstable();
    slots.dedup();
    let claims = look.view.claims();
    let ranges: Vec<(u16, u16)> = claims
        .iter()
        .filter(|c| c.node == from)
        .flat_map(|c| c.slots.clone())
        .collect();
    slots.retain(|s| ranges.iter().any(|&(a, b)| (a..=b).contains(s)));
    if slots.is_empty() {
        let &(a, b) = ranges.first().context("the source serves no slot")?;
        return Ok((a..=b.min(a.saturating_add(15))).collect());
    }
    let mut chosen = slots.clone();
    grudge::shuffle(&mut chosen, pick);
    chosen.truncate(slots.len().div_ceil(2));
    chosen.sort_unstable();
    Ok(chosen)
}

/// The keys of the node at `addr` (at most [`KEYS_SCANNED`]), by `SCAN`.
async fn scan_keys(addr: SocketAddr) -> Result<Vec<Vec<u8>>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let cmd = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .clone();
        let (next, batch): (u64, Vec<Vec<u8>>) = admin::command(addr, &cmd, ADMIN_TIMEOUT).await?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 || keys.len() >= KEYS_SCANNED {
            return Ok(keys);
        }
    }
}
