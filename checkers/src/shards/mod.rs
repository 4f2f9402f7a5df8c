//! Results per shard of a Redis Cluster run, and the cluster-aware parts other checkers use.
//!
//! - [`timeline`]: the cluster's topology records read back: claims of each slot over time,
//!   the owner of a slot at the end, the claim that took a slot from a node.
//! - [`split_brain`]: split-brain slot by slot (the split-brain checker on cluster histories),
//!   reported by slot range ([`slot_ranges`]).
//! - [`attribution`]: the failover or migration that dropped a lost write.
//!
//! The `shards` checker itself reports, for every shard: its nodes; its slots at the start and
//! at the end; its primary timeline (who served as its primary from when to when, with which
//! config epoch); the client operations on its slots by outcome and the writes each node
//! acknowledged; the acknowledged adds lost from its keys. It also counts the redirects clients
//! followed and lists the slot migrations. It has no anomalies of its own (split-brain,
//! lost-writes and the others judge); it is skipped on a standalone history.

pub mod attribution;
pub mod slot_ranges;
pub mod split_brain;
pub mod timeline;

use crate::history::{Function, History, NemesisValue, OpType, Operation, Process};
use crate::lost_writes::analysis::Fate;
use crate::registry::CheckOptions;
use crate::result::CheckResult;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use timeline::{Snapshot, Timeline};

/// One shard's figures.
#[derive(Debug, Default)]
struct ShardStats {
    nodes: Vec<String>,
    outcomes: BTreeMap<&'static str, usize>,
    acknowledged: BTreeMap<String, usize>,
    lost: usize,
}

/// The `shards` checker.
pub fn check(history: &History, _opts: &CheckOptions) -> CheckResult {
    let timeline = Timeline::of(history);
    let (Some(first), Some(last)) = (timeline.snapshots.first(), timeline.snapshots.last()) else {
        return CheckResult::skipped("not a Redis Cluster history (no cluster topology records)");
    };
    let mut shards: BTreeMap<usize, ShardStats> = BTreeMap::new();
    for (node, r) in &last.nodes {
        shards.entry(r.shard).or_default().nodes.push(node.clone());
    }
    let mut redirects: BTreeMap<String, usize> = BTreeMap::new();
    for op in history.operations().filter(|o| o.invoke.is_client()) {
        for r in &op.last().redirects {
            *redirects.entry(r.kind.clone()).or_default() += 1;
        }
        let Some(shard) = op_shard(&timeline, &op) else {
            continue;
        };
        let stats = shards.entry(shard).or_default();
        *stats.outcomes.entry(op.outcome().as_str()).or_default() += 1;
        if op.outcome() == OpType::Ok && op.invoke.f.is_write() {
            if let Some(node) = crate::final_reads::node_of(&op) {
                *stats.acknowledged.entry(node.to_string()).or_default() += 1;
            }
        }
    }
    count_lost(history, last, &mut shards);
    let per_shard: Vec<Value> = shards
        .iter()
        .map(|(shard, s)| shard_value(&timeline, *shard, s, first, last))
        .collect();
    let mut stats = Map::new();
    stats.insert("shards".into(), Value::Array(per_shard));
    stats.insert("redirects".into(), json!(redirects));
    stats.insert("migrations".into(), Value::Array(migrations(history)));
    CheckResult::from_anomalies(Vec::new(), stats)
}

/// The shard serving `op`'s slot when it was invoked (the first record's, for an op before
/// any record).
fn op_shard(timeline: &Timeline, op: &Operation<'_>) -> Option<usize> {
    let slot = op.invoke.slot.or(op.last().slot)?;
    let snapshot = timeline
        .before(op.invoke.time)
        .or(timeline.snapshots.first())?;
    let owner = Timeline::owner_in(snapshot, slot)?;
    snapshot.nodes.get(owner).map(|r| r.shard)
}

/// Lost adds, by the shard that serves their key's slot at the end.
fn count_lost(history: &History, last: &Snapshot, shards: &mut BTreeMap<usize, ShardStats>) {
    if !history.operations().any(|o| o.invoke.f == Function::Add) {
        return;
    }
    let analysis = crate::lost_writes::analyse(history);
    // Each key's slot, from the first op that names both (one pass: a run may use thousands
    // of keys and millions of ops).
    let mut slots: HashMap<&str, u16> = HashMap::new();
    for o in history.ops() {
        if let (Some(key), Some(slot)) = (o.key.as_deref(), o.slot) {
            slots.entry(key).or_insert(slot);
        }
    }
    for key in &analysis.keys {
        let slot = key.key.as_deref().and_then(|k| slots.get(k).copied());
        let shard = slot
            .and_then(|s| Timeline::owner_in(last, s))
            .and_then(|n| last.nodes.get(n))
            .map(|r| r.shard);
        let lost = key
            .elements
            .iter()
            .filter(|e| e.fate == Some(Fate::Lost))
            .count();
        if let Some(shard) = shard {
            shards.entry(shard).or_default().lost += lost;
        }
    }
}

/// One shard as JSON: nodes, slots at the start and end, primaries over time, op counts.
fn shard_value(
    timeline: &Timeline,
    shard: usize,
    s: &ShardStats,
    first: &Snapshot,
    last: &Snapshot,
) -> Value {
    let slots = |snap: &Snapshot| -> Vec<(u16, u16)> {
        snap.nodes
            .values()
            .filter(|r| r.shard == shard && r.role == "primary")
            .flat_map(|r| r.slots.clone())
            .collect()
    };
    json!({
        "shard": shard,
        "nodes": s.nodes,
        "slots_start": slots(first),
        "slots_end": slots(last),
        "primaries": primaries(timeline, shard),
        "ops": s.outcomes,
        "acknowledged_by": s.acknowledged,
        "lost": s.lost,
    })
}

/// The shard's primary over time: the node of the shard claiming slots with the highest epoch
/// in each record, as spans `{node, epoch, from_ms, to_ms}` (`to_ms` null for the last).
fn primaries(timeline: &Timeline, shard: usize) -> Vec<Value> {
    let mut spans: Vec<(String, u64, u64, Option<u64>)> = Vec::new();
    for snap in &timeline.snapshots {
        let primary = snap
            .nodes
            .iter()
            .filter(|(_, r)| r.shard == shard && r.role == "primary" && !r.slots.is_empty())
            .max_by_key(|(_, r)| r.epoch.unwrap_or(0))
            .map(|(n, r)| (n.clone(), r.epoch.unwrap_or(0)));
        let Some((node, epoch)) = primary else {
            continue;
        };
        match spans.last_mut() {
            Some(last) if last.0 == node && last.1 == epoch => {}
            other => {
                if let Some(last) = other {
                    last.3 = Some(snap.time);
                }
                spans.push((node, epoch, snap.time, None));
            }
        }
    }
    spans
        .into_iter()
        .map(|(node, epoch, from, to)| {
            json!({"node": node, "epoch": epoch, "from_ms": from as f64 / 1e6,
                   "to_ms": to.map(|t| t as f64 / 1e6)})
        })
        .collect()
}

/// The slot migrations the nemesis made, as it recorded them.
fn migrations(history: &History) -> Vec<Value> {
    history
        .ops()
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.f == Function::Migrate)
        .filter(|o| o.op_type != OpType::Invoke)
        .map(|o| {
            let mut v = o.value.clone();
            if let Some(m) = v.as_object_mut() {
                m.insert("op".into(), json!(o.index));
                m.insert("at_ms".into(), json!(o.time_ms()));
                if let Some(e) = &o.error {
                    m.insert("error".into(), json!(e));
                }
            } else {
                v = json!({"op": o.index, "value": NemesisValue(&o.value).target_words(80)});
            }
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_reads::test_support::Builder;
    use crate::shards::timeline::tests::record;

    fn observer(b: Builder, ms: f64, value: Value) -> Builder {
        b.at(
            ms,
            json!({"process": "observer", "type": "info", "f": "topology", "value": value}),
        )
    }

    /// Shard 1 (n1, n2) fails over at 10 ms after the nemesis kills n1: the add n1 acknowledged
    /// at 2 ms is missing from n2's final read. The shard is charged one loss; lost-writes says
    /// the failover dropped it, citing the kill.
    fn failover_history() -> History {
        let at = |slot: u64, node: &str| json!({"node": node, "slot": slot});
        let b = observer(
            Builder::with_key("s{0}"),
            0.0,
            record(&[
                ("n1", 1, Ok((0, 99)), 1),
                ("n2", 1, Err("n1"), 0),
                ("n3", 2, Ok((100, 16383)), 2),
            ]),
        );
        let b = b
            .invoke(1.0, 0, "add", json!(1))
            .with(at(7, "n1"))
            .ok(2.0, 0, "add", json!(1))
            .with(at(7, "n1"))
            .nemesis(5.0, "info", "kill", json!(["n1"]));
        let b = observer(
            b,
            10.0,
            record(&[
                ("n1", 1, Err("n2"), 0),
                ("n2", 1, Ok((0, 99)), 7),
                ("n3", 2, Ok((100, 16383)), 2),
            ]),
        );
        b.invoke(20.0, 1, "read", Value::Null)
            .with(json!({"node": "n2", "slot": 7, "final": true}))
            .ok(21.0, 1, "read", json!([]))
            .with(json!({"node": "n2", "slot": 7, "final": true}))
            .build()
    }

    #[test]
    fn each_shard_has_its_primaries_and_losses() {
        let h = failover_history();
        let r = check(&h, &CheckOptions::default());
        let shards = r.stats["shards"].as_array().unwrap();
        assert_eq!(shards.len(), 2);
        assert_eq!(shards[0]["lost"], 1, "{shards:?}");
        assert_eq!(shards[0]["acknowledged_by"]["n1"], 1);
        let primaries: Vec<&str> = shards[0]["primaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["node"].as_str().unwrap())
            .collect();
        assert_eq!(primaries, ["n1", "n2"]);
        assert_eq!(shards[1]["lost"], 0);
    }

    #[test]
    fn a_lost_write_names_the_failover_that_dropped_it() {
        let h = failover_history();
        let r = crate::lost_writes::check(&h, &CheckOptions::default());
        let lost = &r.anomalies[0];
        assert_eq!(lost.details["dropped_by"]["kind"], "failover", "{lost:?}");
        assert_eq!(lost.details["dropped_by"]["node"], "n2");
        assert_eq!(lost.details["dropped_by"]["fault_op"], 3);
        assert!(lost.explanation.contains("Dropped by a failover of slot 7"));
    }

    #[test]
    fn a_standalone_history_is_skipped() {
        let h = Builder::new().topology(0.0, "n1").build();
        let r = check(&h, &CheckOptions::default());
        assert!(r.skipped.is_some());
    }
}
