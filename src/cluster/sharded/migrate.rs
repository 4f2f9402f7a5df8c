//! Moving slots between shards while clients write: the two ways servers offer.
//!
//! - **Classic** ([`Way::Classic`], every Redis Cluster): per slot, the destination is told it
//!   is `IMPORTING` from the source and the source that it is `MIGRATING` to the destination;
//!   the source then hands its keys over with `MIGRATE` (each key moved atomically: written on
//!   the destination, deleted on the source), a batch at a time, while clients follow `ASK`
//!   redirects for keys already moved; finally `CLUSTER SETSLOT slot NODE dst` makes the
//!   destination the owner, told to the destination first, then the source, then every other
//!   primary (the order Redis's documentation gives, so that no node points clients back).
//! - **Atomic** ([`Way::Atomic`], Valkey 9's `CLUSTER MIGRATESLOTS`): the source streams the
//!   slots' data to the destination in the background and hands ownership over in one step;
//!   the harness waits for `CLUSTER GETSLOTMIGRATIONS` to report the job finished and for the
//!   destination to claim the slots.
//!
//! A classic migration cut short leaves slots open; [`finish_open_slots`] rolls them forward to
//! their destination (after healing, before the final reads).

use super::view::ClusterView;
use super::NodeAddr;
use crate::cluster::admin::{self, ADMIN_TIMEOUT};
use anyhow::{bail, Context, Result};
use redis::Value;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Keys handed over per `MIGRATE`.
const BATCH: usize = 100;
/// `MIGRATE`'s own timeout, in milliseconds.
const MIGRATE_TIMEOUT_MS: u64 = 5000;
/// How long an atomic migration may take before the harness gives up waiting.
const ATOMIC_TIMEOUT: Duration = Duration::from_secs(30);

/// Which way slots move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Way {
    /// `CLUSTER SETSLOT` IMPORTING / MIGRATING, `MIGRATE`, `SETSLOT NODE`.
    Classic,
    /// Valkey's `CLUSTER MIGRATESLOTS`.
    Atomic,
}

/// One move: `slots` from the primary `from` to the primary `to`.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    pub slots: Vec<u16>,
    pub from: String,
    pub to: String,
    pub way: Way,
}

/// What a move did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Moved {
    /// Keys handed over with `MIGRATE` (classic only).
    pub keys: usize,
    /// Slots now owned by the destination.
    pub slots: Vec<u16>,
}

/// The nodes of a move, found by name, with the ids the cluster knows them by.
struct Ends<'a> {
    from: &'a NodeAddr,
    to: &'a NodeAddr,
    from_id: String,
    to_id: String,
}

fn ends<'a>(nodes: &'a [NodeAddr], ids: &BTreeMap<String, String>, m: &Move) -> Result<Ends<'a>> {
    let find = |name: &str| {
        nodes
            .iter()
            .find(|n| n.name == name)
            .with_context(|| format!("no node {name}"))
    };
    let id = |name: &str| {
        ids.get(name)
            .cloned()
            .with_context(|| format!("no id for {name}"))
    };
    Ok(Ends {
        from: find(&m.from)?,
        to: find(&m.to)?,
        from_id: id(&m.from)?,
        to_id: id(&m.to)?,
    })
}

/// Carries out `m`; `nodes` are every node of the cluster (the other primaries are told of
/// the new owner), `ids` their cluster ids by name.
pub async fn run(m: &Move, nodes: &[NodeAddr], ids: &BTreeMap<String, String>) -> Result<Moved> {
    let e = ends(nodes, ids, m)?;
    match m.way {
        Way::Classic => {
            let mut moved = Moved::default();
            for &slot in &m.slots {
                moved.keys += classic_slot(slot, &e, nodes)
                    .await
                    .with_context(|| format!("moving slot {slot} from {} to {}", m.from, m.to))?;
                moved.slots.push(slot);
            }
            Ok(moved)
        }
        Way::Atomic => atomic(&m.slots, &e).await,
    }
}

async fn setslot(node: &NodeAddr, slot: u16, state: &str, id: &str) -> Result<()> {
    let cmd = redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg(state)
        .arg(id)
        .clone();
    let _: String = admin::command(node.admin, &cmd, ADMIN_TIMEOUT)
        .await
        .with_context(|| format!("CLUSTER SETSLOT {slot} {state} on {}", node.name))?;
    Ok(())
}

/// One slot, the classic way; returns the keys it moved.
async fn classic_slot(slot: u16, e: &Ends<'_>, nodes: &[NodeAddr]) -> Result<usize> {
    setslot(e.to, slot, "IMPORTING", &e.from_id).await?;
    setslot(e.from, slot, "MIGRATING", &e.to_id).await?;
    let keys = hand_over_keys(slot, e).await?;
    setslot(e.to, slot, "NODE", &e.to_id).await?;
    setslot(e.from, slot, "NODE", &e.to_id).await?;
    for other in nodes
        .iter()
        .filter(|n| n.name != e.from.name && n.name != e.to.name)
    {
        // Gossip tells the rest soon enough; a node that cannot be told now (a replica, a
        // paused or dead node) learns it from the bus.
        let _ = setslot(other, slot, "NODE", &e.to_id).await;
    }
    Ok(keys)
}

/// `MIGRATE`s the slot's keys from the source to the destination, a batch at a time.
async fn hand_over_keys(slot: u16, e: &Ends<'_>) -> Result<usize> {
    let mut moved = 0;
    loop {
        let get = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(BATCH)
            .clone();
        let keys: Vec<Vec<u8>> = admin::command(e.from.admin, &get, ADMIN_TIMEOUT).await?;
        if keys.is_empty() {
            return Ok(moved);
        }
        let mut migrate = redis::cmd("MIGRATE");
        migrate
            .arg(e.to.announce.ip().to_string())
            .arg(e.to.announce.port())
            .arg("")
            .arg(0)
            .arg(MIGRATE_TIMEOUT_MS)
            .arg("KEYS");
        for k in &keys {
            migrate.arg(k.as_slice());
        }
        let timeout = Duration::from_millis(MIGRATE_TIMEOUT_MS) + ADMIN_TIMEOUT;
        let reply: Value = admin::command(e.from.admin, &migrate, timeout)
            .await
            .with_context(|| format!("MIGRATE of {} keys to {}", keys.len(), e.to.name))?;
        if let Value::ServerError(err) = reply {
            bail!("MIGRATE refused: {err:?}");
        }
        moved += keys.len();
    }
}

/// Valkey's atomic slot migration of `slots`, waited for; `keys` is how many the source held
/// in them when it began (`CLUSTER COUNTKEYSINSLOT`).
async fn atomic(slots: &[u16], e: &Ends<'_>) -> Result<Moved> {
    let mut keys = 0;
    for slot in slots {
        let count = redis::cmd("CLUSTER")
            .arg("COUNTKEYSINSLOT")
            .arg(slot)
            .clone();
        let n: usize = admin::command(e.from.admin, &count, ADMIN_TIMEOUT)
            .await
            .with_context(|| format!("CLUSTER COUNTKEYSINSLOT {slot} on {}", e.from.name))?;
        keys += n;
    }
    let mut cmd = redis::cmd("CLUSTER");
    cmd.arg("MIGRATESLOTS").arg("SLOTSRANGE");
    for (a, b) in super::nodes::ranges(slots.iter().copied()) {
        cmd.arg(a).arg(b);
    }
    cmd.arg("NODE").arg(&e.to_id);
    let _: String = admin::command(e.from.admin, &cmd, ADMIN_TIMEOUT)
        .await
        .with_context(|| format!("CLUSTER MIGRATESLOTS on {}", e.from.name))?;
    let deadline = Instant::now() + ATOMIC_TIMEOUT;
    loop {
        let (info, lines) = super::view::fetch_one(e.to.admin, ADMIN_TIMEOUT).await?;
        let _ = info;
        let owns = lines
            .iter()
            .find(|l| l.myself)
            .is_some_and(|me| slots.iter().all(|s| me.serves(*s)));
        if owns {
            return Ok(Moved {
                keys,
                slots: slots.to_vec(),
            });
        }
        if let Some(failure) = atomic_failure(e).await? {
            bail!("the atomic migration to {} ended: {failure}", e.to.name);
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not own the slots {ATOMIC_TIMEOUT:?} after CLUSTER MIGRATESLOTS",
                e.to.name
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A failed or cancelled export job on the source, described, if any.
async fn atomic_failure(e: &Ends<'_>) -> Result<Option<String>> {
    let cmd = redis::cmd("CLUSTER").arg("GETSLOTMIGRATIONS").clone();
    let jobs: Value = admin::command(e.from.admin, &cmd, ADMIN_TIMEOUT).await?;
    Ok(migration_jobs(&jobs)
        .into_iter()
        .filter(|j| j.get("target_node").map(String::as_str) == Some(e.to_id.as_str()))
        .find(|j| {
            matches!(
                j.get("state").map(String::as_str),
                Some("failed" | "canceled" | "cancelled")
            )
        })
        .map(|j| {
            format!(
                "{} {}: {}",
                j.get("slot_ranges").cloned().unwrap_or_default(),
                j.get("state").cloned().unwrap_or_default(),
                j.get("message").cloned().unwrap_or_default()
            )
        }))
}

/// `CLUSTER GETSLOTMIGRATIONS`: one map per job (flat key/value arrays in RESP2).
pub fn migration_jobs(reply: &Value) -> Vec<BTreeMap<String, String>> {
    let text = |v: &Value| redis::from_redis_value_ref::<String>(v).unwrap_or_default();
    let Value::Array(jobs) = reply else {
        return Vec::new();
    };
    jobs.iter()
        .map(|job| match job {
            Value::Array(kv) => kv
                .chunks(2)
                .filter(|p| p.len() == 2)
                .map(|p| (text(&p[0]), text(&p[1])))
                .collect(),
            Value::Map(kv) => kv.iter().map(|(k, v)| (text(k), text(v))).collect(),
            _ => BTreeMap::new(),
        })
        .collect()
}

/// Finishes every slot a migration left open, forward to its destination (the importing node,
/// or the migrating node's target), from the node serving it now. Returns the slots finished.
pub async fn finish_open_slots(view: &ClusterView, nodes: &[NodeAddr]) -> Result<Vec<u16>> {
    let mut done = Vec::new();
    let ids: BTreeMap<String, String> = view
        .views
        .iter()
        .filter_map(|v| Some((v.node.clone(), v.myself()?.id.clone())))
        .collect();
    for open in view.open_slots() {
        if done.contains(&open.slot) {
            continue;
        }
        let to = match open.importing {
            true => open.node.clone(),
            false => open.peer.clone(),
        };
        let from = view
            .claims()
            .into_iter()
            .filter(|c| c.slots.iter().any(|&(a, b)| (a..=b).contains(&open.slot)))
            .max_by_key(|c| c.epoch)
            .map(|c| c.node)
            .with_context(|| format!("no primary serves open slot {}", open.slot))?;
        if from == to {
            // The destination already owns it: only the stale open state remains.
            let node = nodes
                .iter()
                .find(|n| n.name == open.node)
                .context("open node")?;
            let cmd = redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(open.slot)
                .arg("STABLE")
                .clone();
            let _: String = admin::command(node.admin, &cmd, ADMIN_TIMEOUT).await?;
        } else {
            let m = Move {
                slots: vec![open.slot],
                from,
                to,
                way: Way::Classic,
            };
            run(&m, nodes, &ids).await?;
        }
        done.push(open.slot);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn reads_slot_migration_jobs() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("operation"),
            bulk("EXPORT"),
            bulk("slot_ranges"),
            bulk("0-100"),
            bulk("state"),
            bulk("success"),
        ])]);
        let jobs = migration_jobs(&reply);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0]["state"], "success");
        assert_eq!(jobs[0]["slot_ranges"], "0-100");
        assert!(migration_jobs(&Value::Nil).is_empty());
    }
}
