//! The counter checker (INCR / GET, and Jepsen's `add` / `read` counter): Jepsen's bounds.
//!
//! An increment is an `incr` (redline's; a missing value is INCR's 1) or an `add` of an
//! integer (Jepsen's counter model), negative ones included.
//!
//! A read of key k must return a value between
//! - the *lower bound*: the sum of the `ok` increments that completed before the read was
//!   invoked (they certainly happened, and before the read began), and
//! - the *upper bound*: the sum of every increment, `ok` or `info`, invoked before the read
//!   completed (any of them may have happened in time; a `fail` one certainly did not).
//!
//! An increment concurrent with the read may or may not be counted, so it is in the upper bound
//! only. Negative deltas swap sides (a definite decrement lowers the upper bound, a possible one
//! the lower). Reads are served by the master in the counter workload; a read the topology
//! records place on a non-master node is held to the upper bound only (a replica may lag, which
//! is staleness, not a counter anomaly) and counted in `stale_reads` when below the lower bound.
//! A read returning null is 0 (the key does not exist yet). An increment or a read whose value
//! is not an integer cannot be judged: it is counted, noted, and the verdict can then be
//! `unknown` at best (a lost increment may hide behind it).

use crate::final_reads::{node_of, topology_master, FinalReads};
use crate::history::{Function, History, OpType, Operation};
use crate::names::{kind, stat};
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Prefix sums of increments ordered by a time, split into positive and negative parts.
struct Sums {
    times: Vec<u64>,
    /// `pos[i]`, `neg[i]`: sums over the first `i` increments; `index[i]` is the record index
    /// of the (i+1)-th.
    pos: Vec<i64>,
    neg: Vec<i64>,
    index: Vec<u64>,
}

impl Sums {
    fn new(mut items: Vec<(u64, i64, u64)>) -> Sums {
        items.sort_unstable();
        let mut s = Sums {
            times: Vec::new(),
            pos: vec![0],
            neg: vec![0],
            index: Vec::new(),
        };
        for (t, d, i) in items {
            s.times.push(t);
            s.pos.push(s.pos[s.pos.len() - 1].saturating_add(d.max(0)));
            s.neg.push(s.neg[s.neg.len() - 1].saturating_add(d.min(0)));
            s.index.push(i);
        }
        s
    }

    /// How many items have time < `t` (strict) or <= `t`.
    fn count(&self, t: u64, inclusive: bool) -> usize {
        self.times
            .partition_point(|&x| if inclusive { x <= t } else { x < t })
    }
}

/// The bounds of one read and what defines them.
struct Bounds {
    lower: i64,
    upper: i64,
    definite: usize,
    possible: usize,
    /// Index of the latest-completing definite increment / latest-invoked possible one.
    last_definite: Option<u64>,
    last_possible: Option<u64>,
}

/// Increments of one key, indexed for bound queries.
struct KeyCounter {
    /// `ok` increments by completion time.
    definite: Sums,
    /// `ok` and `info` increments by invocation time.
    possible: Sums,
}

impl KeyCounter {
    fn bounds(&self, read: &Operation<'_>) -> Bounds {
        let d = self.definite.count(read.invoke.time, false);
        let p = self.possible.count(read.last().time, true);
        Bounds {
            lower: self.definite.pos[d].saturating_add(self.possible.neg[p]),
            upper: self.possible.pos[p].saturating_add(self.definite.neg[d]),
            definite: d,
            possible: p,
            last_definite: d.checked_sub(1).map(|i| self.definite.index[i]),
            last_possible: p.checked_sub(1).map(|i| self.possible.index[i]),
        }
    }
}

/// Counts per outcome, for statistics.
#[derive(Default)]
struct Counts {
    /// Increments and reads whose value is not an integer.
    unjudged: u64,
    reads: u64,
    ok: u64,
    info: u64,
    fail: u64,
    out_of_bounds: u64,
    stale: u64,
}

/// Checks every read of every counter key against Jepsen's bounds.
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    let mut incrs: BTreeMap<Option<Arc<str>>, Vec<Operation<'_>>> = BTreeMap::new();
    let mut reads: BTreeMap<Option<Arc<str>>, Vec<Operation<'_>>> = BTreeMap::new();
    for op in history.operations() {
        match op.invoke.f {
            Function::Incr | Function::Add => {
                incrs.entry(op.invoke.key.clone()).or_default().push(op)
            }
            Function::Read if op.outcome() == OpType::Ok => {
                reads.entry(op.invoke.key.clone()).or_default().push(op)
            }
            _ => {}
        }
    }
    if incrs.is_empty() {
        return CheckResult::skipped("no incr or add operations in the history");
    }
    let finals = FinalReads::from_history(history);
    let masters = master_timeline(history);
    let mut counts = Counts::default();
    let mut anomalies = Vec::new();
    let mut final_values = Map::new();
    let mut ranges = Map::new();
    let mut notes = finals.notes.clone();
    for (key, key_incrs) in &incrs {
        let counter = key_counter(key_incrs, &mut counts);
        let master_final = finals.master_read(key.as_deref());
        for read in reads.get(key).map(Vec::as_slice).unwrap_or_default() {
            counts.reads += 1;
            // A final read counts fully only on the post-failover master.
            let authoritative = if finals.contains(read.invoke.index) {
                master_final.is_some_and(|m| m.invoke.index == read.invoke.index)
            } else {
                on_master(read, &masters, opts)
            };
            if let Some(a) = judge(key, read, &counter, authoritative, &mut counts) {
                anomalies.push(a);
            }
        }
        let name = key.as_deref().unwrap_or_default().to_string();
        match master_final {
            Some(m) => {
                let b = counter.bounds(&m);
                final_values.insert(name.clone(), json!(read_value(&m)));
                ranges.insert(name, json!([b.lower, b.upper]));
            }
            None => notes.push(format!(
                "key {name:?}: no successful final read on the post-failover master"
            )),
        }
    }
    let mut stats = Map::new();
    stats.insert(stat::READS.into(), json!(counts.reads));
    stats.insert(
        "increments".into(),
        json!(counts.ok + counts.info + counts.fail),
    );
    stats.insert("increments_ok".into(), json!(counts.ok));
    stats.insert("increments_info".into(), json!(counts.info));
    stats.insert("increments_fail".into(), json!(counts.fail));
    stats.insert(stat::OUT_OF_BOUNDS.into(), json!(counts.out_of_bounds));
    stats.insert("stale_reads".into(), json!(counts.stale));
    stats.insert("final_value".into(), single_or_map(final_values));
    stats.insert("expected_range".into(), single_or_map(ranges));
    if counts.unjudged > 0 {
        notes.push(format!(
            "{} increments or reads were not integers and were not judged",
            counts.unjudged
        ));
    }
    let unjudged = counts.unjudged;
    let mut result = CheckResult::from_anomalies(anomalies, stats);
    result.notes = notes;
    if unjudged > 0 && result.valid == crate::result::Validity::Valid {
        result.valid = crate::result::Validity::Unknown;
    }
    result
}

/// One key's value unwrapped; several keys as a map by key.
fn single_or_map(m: Map<String, Value>) -> Value {
    if m.len() == 1 {
        m.into_iter().next().map_or(Value::Null, |(_, v)| v)
    } else {
        Value::Object(m)
    }
}

fn key_counter(incrs: &[Operation<'_>], counts: &mut Counts) -> KeyCounter {
    let mut definite = Vec::new();
    let mut possible = Vec::new();
    for op in incrs {
        // The delta is the invocation's value; a missing one is INCR's 1.
        let delta = match &op.invoke.value {
            Value::Null if op.invoke.f == Function::Incr => 1,
            v => match v.as_i64() {
                Some(d) => d,
                None => {
                    counts.unjudged += 1;
                    continue;
                }
            },
        };
        match op.outcome() {
            OpType::Ok => {
                counts.ok += 1;
                definite.push((op.last().time, delta, op.last().index));
                possible.push((op.invoke.time, delta, op.invoke.index));
            }
            OpType::Fail => counts.fail += 1,
            _ => {
                counts.info += 1;
                possible.push((op.invoke.time, delta, op.invoke.index));
            }
        }
    }
    KeyCounter {
        definite: Sums::new(definite),
        possible: Sums::new(possible),
    }
}

fn read_value(read: &Operation<'_>) -> Option<i64> {
    let v = &read.completion?.value;
    if v.is_null() {
        Some(0)
    } else {
        v.as_i64()
    }
}

/// (time, master) from topology records, in time order.
fn master_timeline(history: &History) -> Vec<(u64, String)> {
    history
        .ops()
        .iter()
        .filter_map(|o| topology_master(o).map(|m| (o.time, m.to_string())))
        .collect()
}

/// Whether a read was served by the master as far as the history knows: the latest topology
/// record before its invocation names its node. Without topology records every read counts as a
/// master read unless the options say reads went to replicas.
fn on_master(read: &Operation<'_>, masters: &[(u64, String)], opts: &CheckOptions) -> bool {
    let i = masters.partition_point(|(t, _)| *t <= read.invoke.time);
    match i.checked_sub(1).map(|i| masters[i].1.as_str()) {
        Some(m) => node_of(read) == Some(m),
        None if masters.is_empty() => opts.reads_from_master != Some(false),
        // Reads before the first topology record: the initial master is the first one named.
        None => node_of(read) == Some(masters[0].1.as_str()),
    }
}

fn judge(
    key: &Option<Arc<str>>,
    read: &Operation<'_>,
    counter: &KeyCounter,
    authoritative: bool,
    counts: &mut Counts,
) -> Option<Anomaly> {
    let Some(value) = read_value(read) else {
        counts.unjudged += 1;
        return None;
    };
    let b = counter.bounds(read);
    let below = value < b.lower;
    if below && !authoritative {
        counts.stale += 1;
    }
    if !(value > b.upper || (below && authoritative)) {
        return None;
    }
    counts.out_of_bounds += 1;
    let mut ops = read.indices();
    let why = if value > b.upper {
        ops.extend(b.last_possible);
        format!(
            "more than the upper bound {}: only {} increments (ok or info) had been invoked \
             before it completed, the last of them op {}",
            b.upper,
            b.possible,
            b.last_possible.map_or("-".into(), |i| i.to_string()),
        )
    } else {
        ops.extend(b.last_definite);
        format!(
            "less than the lower bound {}: {} increments had been acknowledged ok before it was \
             invoked (the last to complete was op {}), so a read served by the master must \
             count them",
            b.lower,
            b.definite,
            b.last_definite.map_or("-".into(), |i| i.to_string()),
        )
    };
    let explanation = format!(
        "Read ops {:?} of key {} on {} (invoked at {:.1} ms, completed at {:.1} ms) returned \
         {value}, {why}. Allowed range: [{}, {}].",
        read.indices(),
        key.as_deref().unwrap_or("(none)"),
        node_of(read).unwrap_or("an unrecorded node"),
        read.invoke.time_ms(),
        read.last().time_ms(),
        b.lower,
        b.upper,
    );
    let a = Anomaly::new(kind::COUNTER_OUT_OF_BOUNDS, ops, explanation).with_details(json!({
        "value": value, "lower": b.lower, "upper": b.upper,
    }));
    Some(match key {
        Some(k) => a.with_key(k.clone()),
        None => a,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_reads::test_support::Builder;
    use crate::result::Validity;

    fn incr(b: Builder, t0: f64, t1: f64, p: u64, outcome: &str) -> Builder {
        b.invoke(t0, p, "incr", json!(1))
            .node("n1")
            .client(t1, p, outcome, "incr", json!(1))
            .node("n1")
    }

    fn read(b: Builder, t0: f64, t1: f64, p: u64, node: &str, v: Value) -> Builder {
        b.invoke(t0, p, "read", Value::Null)
            .node(node)
            .ok(t1, p, "read", v)
            .node(node)
    }

    fn run(b: Builder) -> CheckResult {
        check(&b.build(), &CheckOptions::default())
    }

    #[test]
    fn reads_within_bounds_pass() {
        let b = incr(Builder::with_key("c"), 0.0, 1.0, 0, "ok");
        let b = incr(b, 2.0, 3.0, 0, "ok");
        let b = read(b, 4.0, 5.0, 1, "n1", json!(2));
        let r = run(b);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stat("reads"), Some(1.0));
        assert_eq!(r.stat("increments_ok"), Some(2.0));
    }

    #[test]
    fn read_below_acknowledged_increments_is_out_of_bounds() {
        let b = incr(Builder::with_key("c"), 0.0, 1.0, 0, "ok");
        let b = incr(b, 2.0, 3.0, 0, "ok");
        let b = read(b, 4.0, 5.0, 1, "n1", json!(1));
        let r = run(b);
        assert_eq!(r.valid, Validity::Invalid);
        let a = &r.anomalies[0];
        assert_eq!(a.kind, "counter-out-of-bounds");
        assert_eq!(a.ops, vec![4, 5, 3]);
        assert!(
            a.explanation.contains("less than the lower bound 2"),
            "{}",
            a.explanation
        );
        assert!(a.explanation.contains("Allowed range: [2, 2]"));
    }

    #[test]
    fn read_above_everything_invoked_is_out_of_bounds() {
        let b = incr(Builder::with_key("c"), 0.0, 1.0, 0, "ok");
        let b = read(b, 4.0, 5.0, 1, "n1", json!(3));
        let b = incr(b, 6.0, 7.0, 0, "ok");
        let r = run(b);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.anomalies[0]
            .explanation
            .contains("more than the upper bound 1"));
    }

    #[test]
    fn concurrent_increment_may_or_may_not_be_counted() {
        // The increment overlaps both reads: one sees it, one does not; both are fine.
        let b = Builder::with_key("c")
            .invoke(0.0, 0, "incr", json!(1))
            .invoke(0.5, 1, "read", Value::Null)
            .invoke(0.6, 2, "read", Value::Null)
            .ok(1.0, 1, "read", json!(0))
            .ok(1.1, 2, "read", json!(1))
            .ok(2.0, 0, "incr", json!(1));
        assert_eq!(run(b).valid, Validity::Valid);
    }

    #[test]
    fn info_increment_may_count_fail_may_not() {
        let b = incr(Builder::with_key("c"), 0.0, 1.0, 0, "info");
        let b = read(b, 4.0, 5.0, 1, "n1", json!(1));
        let b = read(b, 6.0, 7.0, 1, "n1", json!(0));
        assert_eq!(run(b).valid, Validity::Valid);
        let b = incr(Builder::with_key("c"), 0.0, 1.0, 0, "fail");
        let b = read(b, 4.0, 5.0, 1, "n1", json!(1));
        let r = run(b);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.stat("increments_fail"), Some(1.0));
    }

    #[test]
    fn lagging_replica_read_is_stale_not_out_of_bounds() {
        let b = incr(
            Builder::with_key("c").topology(0.0, "n1"),
            0.1,
            1.0,
            0,
            "ok",
        );
        let b = read(b, 4.0, 5.0, 1, "n2", json!(0));
        let r = run(b);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stat("stale_reads"), Some(1.0));
        // The same replica returning more than was ever invoked is still an anomaly.
        let b = incr(
            Builder::with_key("c").topology(0.0, "n1"),
            0.1,
            1.0,
            0,
            "ok",
        );
        let b = read(b, 4.0, 5.0, 1, "n2", json!(5));
        assert_eq!(run(b).valid, Validity::Invalid);
    }

    #[test]
    fn final_read_on_new_master_that_lost_increments_is_flagged() {
        let b = incr(
            Builder::with_key("c").topology(0.0, "n1"),
            0.1,
            1.0,
            0,
            "ok",
        );
        let b = incr(b, 2.0, 3.0, 0, "ok");
        let b = b.topology(50.0, "n2");
        let b = read(b, 100.0, 101.0, 90, "n2", json!(1)).with(json!({"final": true}));
        let r = run(b);
        assert_eq!(r.stat("out_of_bounds"), Some(1.0));
        assert_eq!(r.stats["final_value"], json!(1));
        assert_eq!(r.stats["expected_range"], json!([2, 2]));
    }

    #[test]
    fn null_read_is_zero_and_no_incr_is_skipped() {
        let b = read(Builder::with_key("c"), 0.0, 1.0, 1, "n1", Value::Null);
        let b = incr(b, 2.0, 3.0, 0, "ok");
        assert_eq!(run(b).valid, Validity::Valid);
        let only_reads = read(Builder::with_key("c"), 0.0, 1.0, 1, "n1", json!(0));
        assert!(run(only_reads).skipped.is_some());
    }
}
