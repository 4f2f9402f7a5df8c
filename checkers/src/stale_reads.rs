//! The stale-reads checker (register workload): reads that returned a superseded version.
//!
//! Semantics (DESIGN.md section 4). Values are unique per key, so a read's value names the write
//! that produced it (nil names the initial version). Versions are ordered by real time only (see
//! [`crate::register_versions`]). A read of key k invoked at t that returned version A is
//! *stale* when some `ok` write B with A ≺ B completed strictly before t: by the time the read
//! began, a newer version had been acknowledged, yet the read returned A.
//!
//! Why each near-miss is not stale:
//! - a read concurrent with the newer write B (B completed at or after t) may have been served
//!   before B took effect — real time does not order them;
//! - a read of A where A overlaps B (A not ≺ B) may be served after B took effect, as A may have
//!   taken effect last;
//! - an `info` write never completes, so it makes no read stale, though its value may be read;
//! - a nil read before any write completed returns the only version known to exist.
//!
//! Staleness = t − (completion time of the earliest-completing superseding B), in ms: how long a
//! newer version had been acknowledged when the read began. Versions behind = how many writes B
//! with A ≺ B had completed before t.

use crate::history::{Function, History, Operation};
use crate::names::{kind, stat};
use crate::quantiles::{quantile, sorted};
use crate::register_versions::{ms, Attribution, RegisterVersions, RegisterWrite, Version};
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// At most this many `stale-read` anomalies are listed (worst first); stats count all of them.
pub const MAX_ANOMALIES: usize = 1_000;
/// At most this many staleness samples per node are kept for charts.
pub const SAMPLES_PER_NODE: usize = 2_000;

/// A read that returned a superseded version, with the write that proves it.
struct StaleRead<'a> {
    read: Operation<'a>,
    key: &'a str,
    node: String,
    /// The version returned (its write, or `None` for nil).
    returned: Option<&'a RegisterWrite>,
    /// The earliest-completing write that superseded it before the read began.
    superseded_by: &'a RegisterWrite,
    staleness_ns: u64,
    versions_behind: usize,
}

/// The verdict on one read.
enum Judgement<'a> {
    Fresh,
    Stale(Box<StaleRead<'a>>),
    Unexpected(Anomaly),
}

/// Per-node tallies.
#[derive(Default)]
struct NodeTally {
    reads: u64,
    staleness_ns: Vec<u64>,
}

/// Checks every non-final `ok` read of the register workload for staleness.
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    let (reads, final_reads, collections) = judged_reads(history);
    if reads.is_empty() {
        return CheckResult::skipped(if collections.any() {
            collections.note()
        } else {
            "no completed register reads (f = read)".to_string()
        });
    }
    let versions = RegisterVersions::from_history(history);
    let mut stale = Vec::new();
    let mut unexpected = Vec::new();
    let mut nodes: BTreeMap<String, NodeTally> = BTreeMap::new();
    for read in reads.iter().copied() {
        let node = read_node(read);
        let tally = nodes.entry(node.clone()).or_default();
        tally.reads += 1;
        match judge(&versions, read, node) {
            Judgement::Fresh => {}
            Judgement::Stale(s) => {
                tally.staleness_ns.push(s.staleness_ns);
                stale.push(*s);
            }
            Judgement::Unexpected(a) => unexpected.push(a),
        }
    }
    // Worst first: most stale, then most versions behind, then history order.
    stale.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.staleness_ns),
            std::cmp::Reverse(s.versions_behind),
            s.read.invoke.index,
        )
    });
    let stats = stats(reads.len() as u64, &stale, &unexpected, &nodes, final_reads);
    let cap = MAX_ANOMALIES.max(opts.worst_n);
    let notes = notes(stale.len(), unexpected.len(), final_reads, cap);
    let mut anomalies = unexpected;
    anomalies.extend(stale.iter().take(cap).map(anomaly));
    let mut result = CheckResult::from_anomalies(anomalies, stats);
    result.cap_kind(kind::UNEXPECTED, cap);
    let unlisted = stale.len().saturating_sub(cap) as u64;
    if unlisted > 0 {
        result.omitted.insert(kind::STALE_READ.into(), unlisted);
    }
    result.notes = notes;
    collections.downgrade(&mut result);
    result
}

/// The reads to judge (completed `ok` register reads, not final, not of a collection), how
/// many final reads were set aside, and the collection reads skipped.
fn judged_reads(history: &History) -> (Vec<Operation<'_>>, u64, Collections) {
    let mut reads = Vec::new();
    let mut final_reads = 0u64;
    let mut collections = Collections::default();
    for op in history.operations() {
        let Some(done) = op.completion else { continue };
        if op.invoke.f != Function::Read || done.op_type != crate::OpType::Ok {
            continue;
        }
        if collections.seen(done) {
            continue;
        }
        // Final reads happen after healing and convergence: what they return is the
        // lost-writes and divergence checkers' evidence, not replication lag, so they are
        // excluded from staleness and from the fraction of reads stale.
        if op.invoke.is_final || done.is_final {
            final_reads += 1;
            continue;
        }
        reads.push(op);
    }
    (reads, final_reads, collections)
}

/// The notes on what the anomaly list leaves out and what was not judged.
fn notes(stale: usize, unexpected: usize, final_reads: u64, cap: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if stale > cap {
        notes.push(format!(
            "{stale} stale reads found; the {cap} worst are listed as anomalies and {} are \
             omitted (the stats count all of them)",
            stale - cap
        ));
    }
    if final_reads > 0 {
        notes.push(format!(
            "{final_reads} final reads (after healing) are not judged for staleness"
        ));
    }
    if unexpected > cap {
        notes.push(format!(
            "{unexpected} reads returned unexpected values; the first {cap} are listed"
        ));
    }
    notes
}

/// Reads that returned a collection (a list, a set, a map), not a register value: a checker
/// of registers cannot judge them. They are skipped one by one, never the whole history; a
/// clean verdict is then `unknown`, since a stale read may hide among them.
#[derive(Default)]
pub(crate) struct Collections {
    count: u64,
    first: Option<(u64, String)>,
}

impl Collections {
    /// Whether `done` returned a collection (and counts it).
    pub(crate) fn seen(&mut self, done: &crate::Op) -> bool {
        let collection = done.value.is_array() || done.value.is_object();
        if collection {
            self.count += 1;
            self.first
                .get_or_insert_with(|| (done.index, done.value.to_string()));
        }
        collection
    }

    /// Whether any read returned a collection.
    pub(crate) fn any(&self) -> bool {
        self.count > 0
    }

    pub(crate) fn note(&self) -> String {
        let (index, value) = self.first.clone().unwrap_or_default();
        let value: String = value.chars().take(80).collect();
        format!(
            "{} reads returned a collection, not a register value, and were not judged \
             (first: op {index}, {value})",
            self.count
        )
    }

    /// Notes the skipped reads; a valid result becomes unknown.
    pub(crate) fn downgrade(&self, result: &mut CheckResult) {
        if self.count == 0 {
            return;
        }
        result.notes.push(self.note());
        if result.valid == crate::result::Validity::Valid {
            result.valid = crate::result::Validity::Unknown;
        }
    }
}

/// The node that served a read, as the client saw it.
fn read_node(read: Operation<'_>) -> String {
    (read.last().node.as_deref())
        .or(read.invoke.node.as_deref())
        .unwrap_or("unknown")
        .to_string()
}

/// Decides whether one read is fresh, stale, or returned a value no write could have produced.
fn judge<'a>(versions: &'a RegisterVersions, read: Operation<'a>, node: String) -> Judgement<'a> {
    let key = read.invoke.key.as_deref().unwrap_or_default();
    let value = &read.last().value;
    let t = read.start();
    let attribution = match versions.key(key) {
        Some(kv) => kv.attribute(value),
        None if value.is_null() => return Judgement::Fresh, // never written: nil is current
        None => Attribution::NeverWritten,
    };
    let candidates = match attribution {
        Attribution::Versions(v) => v,
        Attribution::NeverWritten => return Judgement::Unexpected(never_written(read, key)),
        Attribution::OnlyFailedWrites(w) => {
            return Judgement::Unexpected(failed_write_read(read, key, &w))
        }
    };
    let Some(kv) = versions.key(key) else {
        return Judgement::Fresh;
    };
    // With unique values there is one candidate. A foreign history may write a value twice;
    // then the read is stale only if it is stale whichever write it saw, and it is charged the
    // least staleness among them.
    let mut least: Option<StaleRead<'a>> = None;
    for version in candidates {
        let superseding = kv.superseding(version, t);
        let Some(b) = superseding.earliest else {
            return Judgement::Fresh;
        };
        let staleness_ns = t - b.end.unwrap_or(t);
        if least
            .as_ref()
            .is_some_and(|l| l.staleness_ns <= staleness_ns)
        {
            continue;
        }
        least = Some(StaleRead {
            read,
            key,
            node: node.clone(),
            returned: match version {
                Version::Initial => None,
                Version::Write(w) => Some(w),
            },
            superseded_by: b,
            staleness_ns,
            versions_behind: superseding.count,
        });
    }
    least.map_or(Judgement::Fresh, |s| Judgement::Stale(Box::new(s)))
}

/// "op 88 (read by process 4 on n2, invoked 12.000 ms, ok 13.000 ms)".
fn describe_read(read: Operation<'_>) -> String {
    let done = read.last();
    format!(
        "read op {} (process {} on {}, invoked {}, ok {})",
        read.invoke.index,
        read.invoke.process,
        done.node.as_deref().unwrap_or("an unrecorded node"),
        ms(read.start()),
        ms(done.time)
    )
}

fn never_written(read: Operation<'_>, key: &str) -> Anomaly {
    let value = &read.last().value;
    Anomaly::new(
        kind::UNEXPECTED,
        read.indices(),
        format!(
            "The {} of key {key} returned {value}, but no write or cas of {key} in the \
             history ever attempted the value {value}.",
            describe_read(read)
        ),
    )
    .with_key(key)
    .with_details(json!({"value": value, "reason": "never-written"}))
}

fn failed_write_read(read: Operation<'_>, key: &str, writes: &[&RegisterWrite]) -> Anomaly {
    let value = &read.last().value;
    let mut ops = read.indices();
    ops.extend(writes.iter().flat_map(|w| w.indices()));
    let described: Vec<String> = writes.iter().map(|w| w.describe()).collect();
    Anomaly::new(
        kind::UNEXPECTED,
        ops,
        format!(
            "The {} of key {key} returned {value}, but the only write of {value} to {key}, {}, \
             failed, which means it certainly did not take effect.",
            describe_read(read),
            described.join(" and ")
        ),
    )
    .with_key(key)
    .with_details(json!({"value": value, "reason": "write-failed"}))
}

fn anomaly(s: &StaleRead<'_>) -> Anomaly {
    let value = &s.read.last().value;
    let b = s.superseded_by;
    let b_end = b.end.unwrap_or_default();
    let mut ops = s.read.indices();
    let returned = match s.returned {
        Some(a) => {
            ops.extend(a.indices());
            format!(
                "the value of {}, and {} was invoked after that write completed",
                a.describe(),
                b.describe()
            )
        }
        None => format!(
            "nil (key absent), the initial version, which every write supersedes, such as {}",
            b.describe()
        ),
    };
    ops.extend(b.indices());
    let explanation = format!(
        "The {} of key {} returned {value}: {returned}. That newer write completed at {}, \
         {} before the read was invoked, so the read was {:.3} ms stale; {} newer write(s) had \
         completed by then, so it was {} version(s) behind.",
        describe_read(s.read),
        s.key,
        ms(b_end),
        ms(s.staleness_ns),
        s.staleness_ns as f64 / 1e6,
        s.versions_behind,
        s.versions_behind
    );
    Anomaly::new(kind::STALE_READ, ops, explanation)
        .with_key(s.key)
        .with_details(json!({
            "process": s.read.invoke.process.to_string(),
            "node": s.node,
            "value": value,
            "read_invoked_ms": s.read.start() as f64 / 1e6,
            "written_by": s.returned.map(|a| a.invoke_index),
            "superseded_by": b.invoke_index,
            "superseded_at_ms": b_end as f64 / 1e6,
            "staleness_ms": s.staleness_ns as f64 / 1e6,
            "versions_behind": s.versions_behind,
        }))
}

/// Fraction `part / whole`, 0 when `whole` is 0.
fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// p50 / p99 / max of staleness samples (ms) into `out`; null when there are none.
fn put_quantiles(out: &mut Map<String, Value>, sorted_ms: &[f64]) {
    for (name, q) in [
        (stat::STALENESS_MS_P50, 0.5),
        (stat::STALENESS_MS_P99, 0.99),
        (stat::STALENESS_MS_MAX, 1.0),
    ] {
        out.insert(name.to_string(), json!(quantile(sorted_ms, q)));
    }
}

/// Up to [`SAMPLES_PER_NODE`] evenly spaced picks from sorted samples, so a histogram of the
/// picks keeps the shape of the whole distribution.
fn samples(sorted_ms: &[f64]) -> Vec<f64> {
    if sorted_ms.len() <= SAMPLES_PER_NODE {
        return sorted_ms.to_vec();
    }
    (0..SAMPLES_PER_NODE)
        .map(|i| sorted_ms[i * sorted_ms.len() / SAMPLES_PER_NODE])
        .collect()
}

fn stats(
    reads: u64,
    stale: &[StaleRead<'_>],
    unexpected: &[Anomaly],
    nodes: &BTreeMap<String, NodeTally>,
    final_reads: u64,
) -> Map<String, Value> {
    let all_ms = sorted(stale.iter().map(|s| s.staleness_ns as f64 / 1e6).collect());
    let mut m = Map::new();
    m.insert(stat::READS.into(), json!(reads));
    m.insert(stat::STALE.into(), json!(stale.len()));
    m.insert(
        "stale_fraction".into(),
        json!(fraction(stale.len() as u64, reads)),
    );
    put_quantiles(&mut m, &all_ms);
    let behind = stale.iter().map(|s| s.versions_behind).max().unwrap_or(0);
    m.insert("versions_behind_max".into(), json!(behind));
    m.insert(stat::UNEXPECTED.into(), json!(unexpected.len()));
    m.insert("final_reads_excluded".into(), json!(final_reads));
    let mut per_node = Map::new();
    for (node, tally) in nodes {
        let node_ms = sorted(tally.staleness_ns.iter().map(|&n| n as f64 / 1e6).collect());
        let mut n = Map::new();
        n.insert(stat::READS.into(), json!(tally.reads));
        n.insert(stat::STALE.into(), json!(node_ms.len()));
        n.insert(
            "stale_fraction".into(),
            json!(fraction(node_ms.len() as u64, tally.reads)),
        );
        put_quantiles(&mut n, &node_ms);
        n.insert("staleness_ms".into(), json!(samples(&node_ms)));
        per_node.insert(node.clone(), Value::Object(n));
    }
    m.insert(stat::PER_NODE.into(), Value::Object(per_node));
    m
}

#[cfg(test)]
mod tests;
