//! Split-brain on a Redis Cluster, judged slot by slot and reported by slot range: two nodes
//! accepting writes for one slot at once. Every shard has a primary of its own, so acknowledgements by different primaries are
//! only suspicious when they are for the same slot; the standalone judgement
//! ([`crate::split_brain::judge`]) is made for each slot the writes used, with the slot's
//! claims (a node's first record as the slot's primary, see [`Timeline::claims`]) as its
//! master declarations. Two witnesses, as on the standalone topology: acknowledgements of two
//! nodes interleaved in real time (a1 < b < a2), or a node acknowledging a write invoked after
//! another node's claim of the slot was recorded (the deposed primary, which keeps taking
//! writes from the clients that still reach it until `cluster-node-timeout` passes). The
//! findings of single slots are then merged into ranges ([`super::slot_ranges`]): one finding
//! per range of adjacent slots that shows the same two nodes at overlapping times.
//!
//! While the nemesis migrates a slot, source and target both serve it by design (the source
//! the keys it still has, the target those moved, after an ASK): writes to a slot invoked from
//! the start of its migration to the first topology record after the end witness nothing.

use super::slot_ranges::{merge, SlotFinding};
use super::timeline::Timeline;
use crate::final_reads::Declaration;
use crate::history::{Function, History, OpType, Operation, Process};
use crate::registry::CheckOptions;
use crate::result::CheckResult;
use crate::split_brain::{acknowledged_writes, judge, Judged};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// The split-brain checker on a cluster history.
pub fn check(history: &History, timeline: &Timeline, _opts: &CheckOptions) -> CheckResult {
    let mut by_slot: BTreeMap<u16, Vec<Operation<'_>>> = BTreeMap::new();
    let mut unattributed = 0;
    let mut migrating = 0;
    let windows = migration_windows(history, timeline);
    for op in acknowledged_writes(history.operations()) {
        match op.invoke.slot.or(op.last().slot) {
            Some(slot) if in_migration(&windows, slot, op.invoke.time, op.last().time) => {
                migrating += 1
            }
            Some(slot) => by_slot.entry(slot).or_default().push(op),
            None => unattributed += 1,
        }
    }
    let mut all = Judged {
        anomalies: Vec::new(),
        overlap_ns: 0,
        reigns: Vec::new(),
        unattributed: 0,
        ambiguous: 0,
    };
    let mut findings = Vec::new();
    for (slot, writes) in &by_slot {
        let judged = judge(history, writes, &declarations(timeline, *slot));
        findings.extend(judged.anomalies.into_iter().map(|anomaly| SlotFinding {
            slot: *slot,
            anomaly,
        }));
        all.reigns.extend(judged.reigns);
        all.unattributed += judged.unattributed;
        all.ambiguous += judged.ambiguous;
    }
    let judged_slots: BTreeSet<u16> = by_slot.keys().copied().collect();
    let per_slot = findings.len();
    for (anomaly, ns) in merge(findings, &judged_slots) {
        all.overlap_ns += ns;
        all.anomalies.push(anomaly);
    }
    if all.reigns.is_empty() {
        return CheckResult::skipped("no acknowledged write names the node that served it");
    }
    let mut result = all.result();
    result.stats.insert("slots".into(), json!(by_slot.len()));
    result
        .stats
        .insert("split_brain_slots".into(), json!(per_slot));
    if unattributed > 0 {
        result.notes.push(format!(
            "{unattributed} acknowledged writes carry no slot and were not considered"
        ));
    }
    if migrating > 0 {
        result.notes.push(format!(
            "{migrating} acknowledged writes were made while their slot was migrating (source \
             and target both serve it then) and were not considered"
        ));
    }
    result
}

/// A slot migration the nemesis made: its slot ranges, from its start to the first topology
/// record after its end (when the new owner's claim is known).
struct Window {
    slots: Vec<(u16, u16)>,
    from: u64,
    to: u64,
}

/// Every migration of the history (a `migrate` nemesis op whose completion names `slots`).
fn migration_windows(history: &History, timeline: &Timeline) -> Vec<Window> {
    let ops = history.ops();
    ops.iter()
        .enumerate()
        .filter(|(_, o)| o.process == Process::Nemesis && o.f == Function::Migrate)
        .filter(|(_, o)| o.op_type == OpType::Invoke)
        .filter_map(|(pos, invoke)| {
            let done = ops.get(history.partner(pos)?)?;
            let slots: Vec<(u16, u16)> =
                serde_json::from_value(done.value.get("slots")?.clone()).ok()?;
            let to = timeline
                .snapshots
                .iter()
                .find(|s| s.time > done.time)
                .map_or(u64::MAX, |s| s.time);
            Some(Window {
                slots,
                from: invoke.time,
                to,
            })
        })
        .collect()
}

/// Whether a write to `slot` from `start` to `end` overlaps a migration of the slot.
fn in_migration(windows: &[Window], slot: u16, start: u64, end: u64) -> bool {
    windows.iter().any(|w| {
        start <= w.to && end >= w.from && w.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
    })
}

/// The nodes that became `slot`'s primary, in the order the history saw them claim it.
fn declarations(timeline: &Timeline, slot: u16) -> Vec<Declaration> {
    let mut claims = timeline.claims(slot);
    claims.sort_by_key(|c| (c.start, c.start_index));
    let mut out: Vec<Declaration> = Vec::new();
    for c in claims {
        if out.last().is_some_and(|d| d.node == c.node) {
            continue;
        }
        out.push(Declaration {
            time: c.start,
            earliest: c.earliest,
            index: c.start_index,
            node: c.node,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_reads::test_support::Builder;
    use crate::result::Validity;
    use crate::shards::timeline::tests::record;

    /// An acknowledged add to slot 7 by `node` from `t0` to `t1` ms.
    fn add(b: Builder, t0: f64, t1: f64, p: u64, node: &str) -> Builder {
        b.invoke(t0, p, "add", json!(p))
            .with(json!({"node": node, "slot": 7}))
            .ok(t1, p, "add", json!(p))
            .with(json!({"node": node, "slot": 7}))
    }

    fn observer(b: Builder, ms: f64, value: serde_json::Value) -> Builder {
        b.at(
            ms,
            json!({"process": "observer", "type": "info", "f": "topology", "value": value}),
        )
    }

    fn start() -> Builder {
        let first = record(&[
            ("n1", 1, Ok((0, 99)), 1),
            ("n2", 1, Err("n1"), 0),
            ("n3", 2, Ok((100, 16383)), 2),
        ]);
        observer(Builder::with_key("s{0}"), 0.0, first)
    }

    fn check(b: Builder) -> CheckResult {
        let h = b.build();
        super::check(&h, &Timeline::of(&h), &CheckOptions::default())
    }

    /// n1 cut from the other nodes but not from its clients: n2 claims the slot at 10 ms, yet
    /// n1 acknowledges a write invoked at 12 ms. Flagged, with the slot.
    #[test]
    fn a_deposed_primary_acknowledging_is_split_brain_of_its_slot() {
        let b = add(start(), 1.0, 2.0, 0, "n1");
        let takeover = record(&[
            ("n1", 1, Ok((0, 99)), 1),
            ("n2", 1, Ok((0, 99)), 7),
            ("n3", 2, Ok((100, 16383)), 2),
        ]);
        let b = observer(b, 10.0, takeover);
        let b = add(b, 12.0, 13.0, 1, "n1");
        let r = check(b);
        assert_eq!(r.valid, Validity::Invalid, "{r:?}");
        let a = &r.anomalies[0];
        assert_eq!(a.details["slots"], json!([[7, 7]]));
        assert!(
            a.explanation.starts_with("Slot 7: n2 was declared master"),
            "{}",
            a.explanation
        );
    }

    /// Primaries of different shards acknowledge writes at once all the time: each for its own
    /// slots, which is no split-brain.
    #[test]
    fn two_shards_acknowledging_their_own_slots_is_fine() {
        let b = add(start(), 1.0, 2.0, 0, "n1");
        let b = b
            .invoke(3.0, 1, "add", json!(1))
            .with(json!({"node": "n3", "slot": 500}))
            .ok(4.0, 1, "add", json!(1))
            .with(json!({"node": "n3", "slot": 500}));
        let b = add(b, 5.0, 6.0, 2, "n1");
        let r = check(b);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert_eq!(r.stats["slots"], 2);
    }

    /// n1 migrates slot 7 to n3 from 10 to 20 ms; n3 acknowledges a write after an ASK at
    /// 12 ms, n1 another at 14 ms: both serve the slot by design then. After the migration
    /// (n3's claim recorded at 25 ms) n1 acknowledging would be split-brain again.
    fn migration() -> Builder {
        let b = add(start(), 1.0, 2.0, 0, "n1")
            .nemesis(10.0, "invoke", "migrate", json!(null))
            .nemesis(
                20.0,
                "info",
                "migrate",
                json!({"from": "n1", "to": "n3", "slots": [[7, 7]], "way": "classic"}),
            );
        let b = add(b, 11.0, 12.0, 1, "n3");
        let b = add(b, 13.0, 14.0, 2, "n1");
        let moved = record(&[
            ("n1", 1, Ok((0, 6)), 1),
            ("n2", 1, Err("n1"), 0),
            ("n3", 2, Ok((7, 16383)), 8),
        ]);
        observer(b, 25.0, moved)
    }

    #[test]
    fn writes_during_a_migration_of_their_slot_witness_nothing() {
        let r = check(migration());
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert!(
            r.notes.iter().any(|n| n.contains("migrating")),
            "{:?}",
            r.notes
        );
        let r = check(add(migration(), 30.0, 31.0, 3, "n1"));
        assert_eq!(r.valid, Validity::Invalid);
    }
}
