//! Split-brain findings of single slots merged into slot ranges, so that a failover of a shard
//! whose keys sit in thousands of slots is one finding ("slots 0-5460: n1 and n2 both acted as
//! primary from t1 to t2"), not thousands.
//!
//! Two findings merge when they name the same two nodes, their windows overlap in time, and
//! their slots are *adjacent among the slots with findings*: no slot between them shows a
//! split-brain of another pair only. A slot between them without a finding is a gap the range
//! spans, and the explanation counts such slots: one that no acknowledged write used says
//! nothing, and one whose writes show no overlap says little more (the deposed primary's
//! clients need not have written to every one of its slots in the window; the split-brain is
//! the node's, not the slot's). Findings of different node pairs never merge, nor do findings of
//! one pair whose windows do not overlap (two separate failovers of one shard).
//!
//! Nothing is dropped: a range's anomaly cites every witness op of every slot in it (the first
//! slot's in the order its explanation cites them, then the others'), lists its slots in
//! `details.slots`, and explains its first slot in full; every op record names its slot, so a
//! reader can check any other slot of the range by hand the same way.

use crate::history::cluster_value::ranges_words;
use crate::names::kind;
use crate::result::Anomaly;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One slot's split-brain: the anomaly [`crate::split_brain::judge`] made for it (with
/// `details.nodes`, `start_ms`, `end_ms`, `writes`, and `witness` for a deposed master).
pub struct SlotFinding {
    pub slot: u16,
    pub anomaly: Anomaly,
}

/// A range under construction.
struct Range {
    pair: (String, String),
    start_ms: f64,
    end_ms: f64,
    findings: Vec<SlotFinding>,
    /// The last slot with findings it was extended at.
    last_judged: u16,
}

impl Range {
    fn first_slot(&self) -> u16 {
        self.findings[0].slot
    }
    fn last_slot(&self) -> u16 {
        self.findings[self.findings.len() - 1].slot
    }
}

/// Merges per-slot findings into ranges. `judged` holds every slot whose acknowledged writes
/// were judged (with or without a finding), for the explanations' counts. Returns the ranges' anomalies in slot order, each
/// with the length of its window in ns.
pub fn merge(findings: Vec<SlotFinding>, judged: &BTreeSet<u16>) -> Vec<(Anomaly, u64)> {
    let mut by_slot: BTreeMap<u16, Vec<SlotFinding>> = BTreeMap::new();
    for f in findings {
        by_slot.entry(f.slot).or_default().push(f);
    }
    let mut open: Vec<Range> = Vec::new();
    let mut closed: Vec<Range> = Vec::new();
    let mut previous: Option<u16> = None;
    for (slot, found) in by_slot {
        for finding in found {
            let pair = pair_of(&finding.anomaly);
            let (start, end) = window_of(&finding.anomaly);
            let extends = open.iter_mut().find(|r| {
                r.pair == pair
                    && Some(r.last_judged) == previous
                    && r.last_slot() != slot
                    && start <= r.end_ms
                    && r.start_ms <= end
            });
            match extends {
                Some(r) => {
                    r.start_ms = r.start_ms.min(start);
                    r.end_ms = r.end_ms.max(end);
                    r.last_judged = slot;
                    r.findings.push(finding);
                }
                None => open.push(Range {
                    pair,
                    start_ms: start,
                    end_ms: end,
                    findings: vec![finding],
                    last_judged: slot,
                }),
            }
        }
        let (keep, done): (Vec<Range>, Vec<Range>) =
            open.into_iter().partition(|r| r.last_judged == slot);
        open = keep;
        closed.extend(done);
        previous = Some(slot);
    }
    closed.extend(open);
    closed.sort_by_key(|r| (r.first_slot(), r.findings[0].anomaly.ops.first().copied()));
    closed
        .into_iter()
        .map(|r| range_anomaly(r, judged))
        .collect()
}

/// The two nodes a finding names, in name order.
fn pair_of(a: &Anomaly) -> (String, String) {
    let mut nodes: Vec<String> = a.details["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    nodes.sort();
    let second = nodes.get(1).cloned().unwrap_or_default();
    (nodes.first().cloned().unwrap_or_default(), second)
}

fn window_of(a: &Anomaly) -> (f64, f64) {
    let ms = |f: &str| a.details.get(f).and_then(Value::as_f64).unwrap_or(0.0);
    (ms("start_ms"), ms("end_ms"))
}

/// Runs of consecutive slot numbers: `[[lo, hi], ...]`.
fn runs(slots: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &s in slots {
        match out.last_mut() {
            Some(run) if run.1 + 1 == s => run.1 = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// The anomaly of one range, and its window in ns.
fn range_anomaly(r: Range, judged: &BTreeSet<u16>) -> (Anomaly, u64) {
    let slots: Vec<u16> = r.findings.iter().map(|f| f.slot).collect();
    let (lo, hi) = (r.first_slot(), r.last_slot());
    let (a, b) = (&r.pair.0, &r.pair.1);
    let mut witnesses: BTreeMap<String, usize> = BTreeMap::new();
    let mut writes: BTreeMap<String, u64> = BTreeMap::new();
    let mut ops: Vec<u64> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    for f in &r.findings {
        let d = &f.anomaly.details;
        let witness = d["witness"].as_str().unwrap_or("interleaved").to_string();
        *witnesses.entry(witness).or_default() += 1;
        for (node, n) in d["writes"].as_object().into_iter().flatten() {
            *writes.entry(node.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
        ops.extend(f.anomaly.ops.iter().filter(|i| seen.insert(**i)));
    }
    let first = &r.findings[0].anomaly;
    let explanation = if slots.len() == 1 {
        format!("Slot {lo}: {}", first.explanation)
    } else {
        let written = judged.range(lo..=hi).count();
        let unwritten = usize::from(hi - lo) + 1 - written;
        let clean = written - slots.len();
        let mut gap = String::new();
        if unwritten > 0 {
            gap += &format!("; {unwritten} slot(s) between them had no acknowledged writes");
        }
        if clean > 0 {
            gap += &format!(
                "; {clean} had some, none showing the overlap (the split-brain is the nodes', \
                 and their clients need not have written every slot in the window)"
            );
        }
        let kinds: Vec<String> = witnesses
            .iter()
            .map(|(w, n)| format!("witness {w} on {n}"))
            .collect();
        format!(
            "Slots {}: {a} and {b} both acted as primary between {:.1} ms and {:.1} ms. \
             It shows on {} slot(s) ({}){gap}. Slot {lo}, the first: {} The other slots' witness ops follow its own \
             among this anomaly's ops, and each op record names its slot, so any of them can be \
             checked the same way.",
            ranges_words(&[(lo, hi)]),
            r.start_ms,
            r.end_ms,
            slots.len(),
            kinds.join(", "),
            first.explanation,
        )
    };
    let slot_runs: Vec<Value> = runs(&slots)
        .into_iter()
        .map(|(x, y)| json!([x, y]))
        .collect();
    let details = json!({
        "nodes": [a, b],
        "slot_range": [lo, hi],
        "slots": slot_runs,
        "slot_count": slots.len(),
        "start_ms": r.start_ms,
        "end_ms": r.end_ms,
        "witnesses": witnesses,
        "writes": writes,
    });
    let ns = ((r.end_ms - r.start_ms).max(0.0) * 1e6) as u64;
    (
        Anomaly::new(kind::SPLIT_BRAIN, ops, explanation).with_details(details),
        ns,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(slot: u16, nodes: [&str; 2], start: f64, end: f64, ops: &[u64]) -> SlotFinding {
        let details = json!({"nodes": nodes, "start_ms": start, "end_ms": end,
                             "writes": {nodes[0]: 1, nodes[1]: 1}});
        SlotFinding {
            slot,
            anomaly: Anomaly::new(kind::SPLIT_BRAIN, ops.to_vec(), format!("slot {slot}"))
                .with_details(details),
        }
    }

    #[test]
    fn thousands_of_slots_of_one_failover_are_one_small_finding() {
        let findings: Vec<SlotFinding> = (0..5461u16)
            .map(|s| {
                let op = u64::from(s) * 2;
                finding(
                    s,
                    ["n2", "n1"],
                    10.0,
                    20.0 + f64::from(s % 7),
                    &[op, op + 1],
                )
            })
            .collect();
        let judged: BTreeSet<u16> = (0..5461).collect();
        let merged = merge(findings, &judged);
        assert_eq!(merged.len(), 1);
        let (a, ns) = &merged[0];
        assert_eq!(a.ops.len(), 5461 * 2, "every witness op is kept");
        assert_eq!(a.details["slots"], json!([[0, 5460]]));
        assert_eq!(*ns, 16_000_000);
        assert!(
            a.explanation.starts_with("Slots 0-5460: n1 and n2"),
            "{}",
            a.explanation
        );
        let size = serde_json::to_string(a).unwrap().len();
        assert!(size < 5461 * 2 * 8 + 2_000, "{size} bytes");
    }

    use crate::final_reads::test_support::Builder;
    use crate::registry::CheckOptions;
    use crate::result::{CheckResult, Validity};
    use crate::shards::timeline::tests::{record, TestNode};
    use crate::shards::timeline::Timeline;

    /// An acknowledged add to `slot` by `node` from `t0` to `t1` ms.
    fn add(b: Builder, t0: f64, t1: f64, p: u64, node: &str, slot: u16) -> Builder {
        let at = json!({"node": node, "slot": slot});
        b.invoke(t0, p, "add", json!(p))
            .with(at.clone())
            .ok(t1, p, "add", json!(p))
            .with(at)
    }

    /// Acknowledged adds by `node` to each of `slots` in turn from `t0` ms, 0.1 ms each, one
    /// process each from `p`.
    fn adds(mut b: Builder, t0: f64, p: u64, node: &str, slots: &[u16]) -> Builder {
        for (i, &slot) in slots.iter().enumerate() {
            let at = t0 + 0.2 * i as f64;
            b = add(b, at, at + 0.1, p + i as u64, node, slot);
        }
        b
    }

    fn topology(b: Builder, ms: f64, nodes: &[TestNode<'_>]) -> Builder {
        let value = record(nodes);
        b.at(
            ms,
            json!({"process": "observer", "type": "info", "f": "topology", "value": value}),
        )
    }

    type Role = (Result<(u16, u16), &'static str>, u64);

    /// A topology record at `ms` with shard 1's n1, n2 and n5 as given (what each claims or
    /// replicates, its epoch) and shard 2 as ever: n3 the primary of 100-16383, n4 its replica.
    fn shard_1(b: Builder, ms: f64, [n1, n2, n5]: [Role; 3]) -> Builder {
        let nodes = [
            ("n1", 1, n1.0, n1.1),
            ("n2", 1, n2.0, n2.1),
            ("n5", 1, n5.0, n5.1),
            ("n3", 2, Ok((100, 16383)), 2),
            ("n4", 2, Err("n3"), 0),
        ];
        topology(b, ms, &nodes)
    }

    /// Shard 1 is n1 (slots 0-99) with replicas n2 and n5; shard 2 is n3 (100-16383) with n4.
    fn start() -> Builder {
        shard_1(
            Builder::with_key("s{0}"),
            0.0,
            [(Ok((0, 99)), 1), (Err("n1"), 0), (Err("n1"), 0)],
        )
    }

    fn check(b: Builder) -> CheckResult {
        let h = b.build();
        super::super::split_brain::check(&h, &Timeline::of(&h), &CheckOptions::default())
    }

    fn slots_of(r: &CheckResult) -> Vec<Value> {
        r.anomalies
            .iter()
            .map(|a| a.details["slots"].clone())
            .collect()
    }

    /// Both shards fail over at 10 ms while their old primaries keep acknowledging: shard 1's
    /// slots 7-9 and shard 2's slots 500-501 are two ranges, each of its own pair.
    #[test]
    fn two_failovers_are_two_disjoint_ranges() {
        let b = adds(start(), 1.0, 0, "n1", &[7, 8, 9]);
        let b = adds(b, 3.0, 10, "n3", &[500, 501]);
        let b = topology(
            b,
            10.0,
            &[
                ("n1", 1, Ok((0, 99)), 1),
                ("n2", 1, Ok((0, 99)), 7),
                ("n5", 1, Err("n2"), 0),
                ("n3", 2, Ok((100, 16383)), 2),
                ("n4", 2, Ok((100, 16383)), 8),
            ],
        );
        let b = adds(b, 12.0, 20, "n1", &[7, 8, 9]);
        let b = adds(b, 14.0, 30, "n3", &[500, 501]);
        let r = check(b);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(slots_of(&r), [json!([[7, 9]]), json!([[500, 501]])]);
        assert_eq!(r.anomalies[0].details["nodes"], json!(["n1", "n2"]));
        assert_eq!(r.anomalies[1].details["nodes"], json!(["n3", "n4"]));
        let first = &r.anomalies[0];
        assert!(
            first
                .explanation
                .starts_with("Slots 7-9: n1 and n2 both acted as primary"),
            "{}",
            first.explanation
        );
        // The topology record, and both ops (invoke, ok) of each of n1's late writes.
        for op in 11..=17 {
            assert!(
                first.ops.contains(&op),
                "op {op} missing from {:?}",
                first.ops
            );
        }
        assert_eq!(r.stats["split_brain_slots"], 5);
    }

    fn failover_of_shard_1(b: Builder) -> Builder {
        shard_1(
            b,
            10.0,
            [(Ok((0, 99)), 1), (Ok((0, 99)), 7), (Err("n2"), 0)],
        )
    }

    /// Slot 8 had no writes, slot 10 only writes before the failover: slots 7, 9 and 11 are
    /// one range across both gaps, and the explanation counts them.
    #[test]
    fn slots_without_the_overlap_are_gaps_inside_a_range() {
        let b = failover_of_shard_1(adds(start(), 1.0, 0, "n1", &[7, 9, 10, 11]));
        let r = check(adds(b, 12.0, 10, "n1", &[7, 9, 11]));
        assert_eq!(r.anomalies.len(), 1, "{:?}", r.anomalies);
        assert_eq!(slots_of(&r), [json!([[7, 7], [9, 9], [11, 11]])]);
        assert_eq!(r.anomalies[0].details["slot_range"], json!([7, 11]));
        let text = &r.anomalies[0].explanation;
        assert!(text.starts_with("Slots 7-11: n1 and n2"), "{text}");
        assert!(text.contains("It shows on 3 slot(s)"), "{text}");
        assert!(
            text.contains("1 slot(s) between them had no acknowledged writes"),
            "{text}"
        );
        assert!(
            text.contains("1 had some, none showing the overlap"),
            "{text}"
        );
    }

    /// A slot showing another pair only ends a range: 7 and 9 (n1, n2) stay apart across 8
    /// (n1, n5).
    #[test]
    fn a_slot_of_another_pair_ends_a_range() {
        let findings = vec![
            finding(7, ["n1", "n2"], 10.0, 20.0, &[1]),
            finding(8, ["n1", "n5"], 10.0, 20.0, &[2]),
            finding(9, ["n1", "n2"], 10.0, 20.0, &[3]),
        ];
        let merged = merge(findings, &BTreeSet::from([7, 8, 9]));
        let slots: Vec<&Value> = merged.iter().map(|(a, _)| &a.details["slots"]).collect();
        assert_eq!(
            slots,
            [&json!([[7, 7]]), &json!([[8, 8]]), &json!([[9, 9]])]
        );
    }

    /// n2 takes slot 7 and n5 slot 8 while n1 keeps acknowledging both: two pairs, two
    /// findings, however adjacent their slots.
    #[test]
    fn different_pairs_do_not_merge() {
        let b = adds(start(), 1.0, 0, "n1", &[7, 8]);
        let b = shard_1(
            b,
            10.0,
            [(Ok((0, 99)), 1), (Ok((0, 7)), 7), (Ok((8, 99)), 8)],
        );
        let r = check(adds(b, 12.0, 10, "n1", &[7, 8]));
        assert_eq!(slots_of(&r), [json!([[7, 7]]), json!([[8, 8]])]);
        assert_eq!(r.anomalies[0].details["nodes"], json!(["n1", "n2"]));
        assert_eq!(r.anomalies[1].details["nodes"], json!(["n1", "n5"]));
    }

    /// n2 takes shard 1 at 10 ms and n1 goes on acknowledging slot 7; n1 takes it back at
    /// 20 ms (sampled since 15 ms, when it was n2's replica) and n2 goes on acknowledging slot 8.
    /// One pair, adjacent slots, but two separate windows: two findings.
    #[test]
    fn one_pair_at_separate_times_does_not_merge() {
        let b = failover_of_shard_1(start());
        let b = add(b, 12.0, 13.0, 0, "n1", 7);
        let b = shard_1(b, 15.0, [(Err("n2"), 0), (Ok((0, 99)), 7), (Err("n2"), 0)]);
        let b = shard_1(
            b,
            20.0,
            [(Ok((0, 99)), 9), (Ok((0, 99)), 7), (Err("n1"), 0)],
        )
        .with_value(json!({"since_ns": 15_000_000}));
        let r = check(add(b, 22.0, 23.0, 1, "n2", 8));
        assert_eq!(slots_of(&r), [json!([[7, 7]]), json!([[8, 8]])]);
        assert_eq!(r.anomalies[0].details["end_ms"], 13.0);
        assert_eq!(r.anomalies[1].details["start_ms"], 20.0);
    }

    /// A clean failover on every slot: n1's writes all end before n2's claim, n2's all start
    /// after it. No overlap in time, nothing to report.
    #[test]
    fn a_handover_without_overlap_passes() {
        let b = adds(start(), 1.0, 0, "n1", &[7, 8, 9, 500]);
        let b = shard_1(b, 10.0, [(Err("n2"), 0), (Ok((0, 99)), 7), (Err("n2"), 0)]);
        let b = adds(b, 12.0, 10, "n2", &[7, 8, 9]);
        let r = check(adds(b, 14.0, 20, "n3", &[500]));
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
        assert_eq!(r.stats["slots"], 4);
    }

    /// The deposed n1 acknowledges a write to each of 3,000 slots after n2's claim: one
    /// finding for the lot, citing all 6,000 witness records and the claim.
    #[test]
    fn a_deposed_primary_writing_thousands_of_slots_is_one_finding() {
        let nodes = |n1: Result<(u16, u16), &'static str>, n2| {
            vec![
                ("n1", 1, n1, 1),
                ("n2", 1, n2, 7),
                ("n3", 2, Ok((5461, 16383)), 2),
            ]
        };
        let b = topology(
            Builder::with_key("s{0}"),
            0.0,
            &nodes(Ok((0, 5460)), Err("n1")),
        );
        let b = add(b, 1.0, 2.0, 0, "n1", 0);
        let b = topology(b, 10.0, &nodes(Ok((0, 5460)), Ok((0, 5460))));
        let slots: Vec<u16> = (0..3_000).collect();
        let b = adds(b, 12.0, 1, "n1", &slots);
        let r = check(b);
        assert_eq!(r.anomalies.len(), 1, "{:?}", r.anomalies.len());
        let a = &r.anomalies[0];
        assert_eq!(a.details["slots"], json!([[0, 2999]]));
        assert_eq!(a.ops.len(), 1 + 6_000);
        assert!(a.explanation.len() < 2_000, "{}", a.explanation);
        assert_eq!(r.stats["split_brain_slots"], 3_000);
    }
}
