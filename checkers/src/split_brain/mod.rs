//! The split-brain checker: intervals in which two nodes both acknowledged writes, from the
//! client completions alone (each `ok` write's `node` is who acknowledged it).
//!
//! What counts as two masters at once: node A acknowledged a write a1, then node B a write b,
//! then A another write a2, each *strictly* after the previous one in real time (a1 completed
//! before b was invoked, b completed before a2 was invoked). Only then can no single-master
//! history explain the acknowledgements. So:
//! - a clean handover (all of A's writes, then all of B's) is not split-brain;
//! - a write A acknowledges while B's first write is in flight is concurrent, not interleaved
//!   (the old master may still have been the master when it applied it);
//! - a failback (A, then B, then A again after A was promoted back) is not split-brain: a
//!   node's writes are grouped into *reigns*, a new reign starting at every point the history
//!   declares that node master (a topology record naming it, a promote/failover naming it; see
//!   [`crate::final_reads::declarations`]), and only writes of the same reign are compared.
//!   A history with no declarations has one reign per node.
//!
//! The reported interval is the overlap of the two reigns' acknowledgement spans (first to last
//! completion), which the witness chain a1 < b < a2 proves non-empty.
//!
//! A second, simpler witness needs no writes from the new master: a *deposed master*. Once the
//! history declares B the master (a promotion the harness made, a `+switch-master` it saw), a
//! write that node A acknowledged although it was invoked strictly after that declaration, with
//! no later declaration of A, means A still acted as a master while B was one. This is the
//! classic Sentinel split-brain: the old master, cut off from the Sentinels but not from its
//! clients, keeps acknowledging writes that the new master never sees.

use crate::final_reads::{declarations, node_of, Declaration};
use crate::history::{Function, History, OpType, Operation};
use crate::lost_writes::faults;
use crate::names::{kind, stat};
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How many master-change or fault records an explanation quotes.
const EVENTS_QUOTED: usize = 10;
/// How far before the later reign's first write to look for the events that started it (ns).
const EVENTS_LOOKBACK_NS: u64 = 1_000_000_000;

/// The acknowledged writes of one node between two declarations of it as master.
struct Reign<'a> {
    node: &'a str,
    number: usize,
    /// By completion time.
    writes: Vec<Operation<'a>>,
}

impl Reign<'_> {
    fn first_end(&self) -> u64 {
        self.writes.first().map_or(0, |w| w.last().time)
    }
    fn last_end(&self) -> u64 {
        self.writes.last().map_or(0, |w| w.last().time)
    }
}

/// Whether an operation is an acknowledged write: `write`, `add`, `incr`, `cas`, or a `txn`
/// with at least one `append`.
fn is_write(op: &Operation<'_>) -> bool {
    if op.outcome() != OpType::Ok {
        return false;
    }
    match op.invoke.f {
        Function::Write | Function::Add | Function::Incr | Function::Cas => true,
        Function::Txn => op.invoke.value.as_array().is_some_and(|mops| {
            mops.iter()
                .any(|m| m.get(0).and_then(Value::as_str) == Some("append"))
        }),
        _ => false,
    }
}

/// Finds every pair of reigns of different nodes whose acknowledgements interleave, and every
/// deposed master that went on acknowledging. On a Redis Cluster, where every shard has a
/// primary of its own, the same judgement is made slot by slot ([`crate::shards::split_brain`]).
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    let timeline = crate::shards::timeline::Timeline::of(history);
    if timeline.is_cluster() {
        return crate::shards::split_brain::check(history, &timeline, opts);
    }
    let writes: Vec<Operation<'_>> = history.operations().filter(is_write).collect();
    let judged = judge(history, &writes, &declarations(history));
    if judged.reigns.is_empty() {
        return CheckResult::skipped("no acknowledged write names the node that served it");
    }
    judged.result()
}

/// What [`judge`] found among one group of writes.
pub struct Judged {
    pub anomalies: Vec<Anomaly>,
    pub overlap_ns: u64,
    /// Each reign's node and number of writes.
    pub reigns: Vec<(String, usize)>,
    /// Acknowledged writes that name no node.
    pub unattributed: usize,
    /// Acknowledged writes whose node may or may not already have been declared anew when they
    /// were invoked (a declaration noticed after the fact): which reign they belong to is
    /// unknown, so they witness nothing.
    pub ambiguous: usize,
}

impl Judged {
    /// The checker's result, with its statistics.
    pub fn result(self) -> CheckResult {
        let mut stats = Map::new();
        stats.insert("intervals".into(), json!(self.anomalies.len()));
        stats.insert(
            stat::OVERLAP_MS_TOTAL.into(),
            json!(self.overlap_ns as f64 / 1e6),
        );
        let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
        for (node, writes) in &self.reigns {
            *per_node.entry(node).or_default() += writes;
        }
        stats.insert("writes_by_node".into(), json!(per_node));
        stats.insert("reigns".into(), json!(self.reigns.len()));
        let mut result = CheckResult::from_anomalies(self.anomalies, stats);
        if self.unattributed > 0 {
            result.notes.push(format!(
                "{} acknowledged writes carry no node and were not considered",
                self.unattributed
            ));
        }
        if self.ambiguous > 0 {
            result.notes.push(format!(
                "{} acknowledged writes were invoked while their node may already have become \
                 master again, unrecorded yet; they witness no interleaving",
                self.ambiguous
            ));
        }
        result
    }
}

/// The acknowledged writes among `ops`.
pub fn acknowledged_writes<'a>(ops: impl Iterator<Item = Operation<'a>>) -> Vec<Operation<'a>> {
    ops.filter(is_write).collect()
}

/// Judges one group of acknowledged `writes` against the master declarations `decls` (in time
/// order): interleaved reigns, and deposed masters.
pub fn judge(history: &History, writes: &[Operation<'_>], decls: &[Declaration]) -> Judged {
    let mut unattributed = 0usize;
    let mut ambiguous = 0usize;
    let mut by_reign: BTreeMap<(&str, usize), Vec<Operation<'_>>> = BTreeMap::new();
    for op in writes {
        match node_of(op) {
            Some(node) if uncertain_reign(decls, node, op) => ambiguous += 1,
            Some(node) => {
                let number = reign_number(decls, node, op.invoke.time);
                by_reign.entry((node, number)).or_default().push(*op);
            }
            None => unattributed += 1,
        }
    }
    let reigns: Vec<Reign<'_>> = by_reign
        .into_iter()
        .map(|((node, number), mut writes)| {
            writes.sort_by_key(|w| (w.last().time, w.last().index));
            Reign {
                node,
                number,
                writes,
            }
        })
        .collect();
    let mut anomalies = Vec::new();
    let mut overlap_ns = 0u64;
    for (i, a) in reigns.iter().enumerate() {
        for b in &reigns[i + 1..] {
            if a.node == b.node {
                continue;
            }
            let found = interleaving(a, b).or_else(|| interleaving(b, a));
            if let Some(chain) = found {
                let (anomaly, ns) = explain(history, a, b, chain);
                overlap_ns += ns;
                anomalies.push(anomaly);
            }
        }
    }
    for (anomaly, ns) in deposed_masters(history, writes, decls) {
        let pair = anomaly.details.get("nodes").cloned();
        let covered = anomalies.iter().any(|a| {
            let mut x = a.details.get("nodes").cloned();
            let mut y = pair.clone();
            if let (Some(Value::Array(x)), Some(Value::Array(y))) = (x.as_mut(), y.as_mut()) {
                x.sort_by_key(|v| v.to_string());
                y.sort_by_key(|v| v.to_string());
            }
            x == y
        });
        if !covered {
            overlap_ns += ns;
            anomalies.push(anomaly);
        }
    }
    Judged {
        anomalies,
        overlap_ns,
        reigns: reigns
            .iter()
            .map(|r| (r.node.to_string(), r.writes.len()))
            .collect(),
        unattributed,
        ambiguous,
    }
}

/// Whether the write may have taken effect (anywhere from its invocation to its completion)
/// where one of its node's own declarations may already have happened but was not recorded
/// yet: then which reign it belongs to is unknown.
fn uncertain_reign(decls: &[Declaration], node: &str, op: &Operation<'_>) -> bool {
    let (invoked, done) = (op.invoke.time, op.last().time);
    decls
        .iter()
        .any(|d| d.node == node && d.earliest < d.time && invoked < d.time && d.earliest <= done)
}

/// Acknowledged writes by a node other than the declared master, invoked strictly after the
/// declaration: one anomaly per (node, declaration), with the interval from the declaration to
/// the last such acknowledgement.
fn deposed_masters<'a>(
    history: &History,
    writes: &[Operation<'a>],
    decls: &[Declaration],
) -> Vec<(Anomaly, u64)> {
    let mut groups: BTreeMap<(usize, &'a str), Vec<Operation<'a>>> = BTreeMap::new();
    for op in writes.iter().copied() {
        let Some(node) = node_of(&op) else { continue };
        if uncertain_reign(decls, node, &op) {
            continue; // its node may have been master again already (see `judge`)
        }
        // The declaration in force when the write was invoked (strictly before it).
        let Some(d) = decls.iter().rposition(|d| d.time < op.invoke.time) else {
            continue;
        };
        // Only a node that had itself been declared master before is *deposed*; a node that
        // acknowledges before its own declaration reached the history (a client that asked
        // Sentinel a moment before the harness recorded +switch-master) is not.
        let was_master = decls[..d].iter().any(|e| e.node == node);
        if decls[d].node != node && was_master {
            groups.entry((d, node)).or_default().push(op);
        }
    }
    groups
        .into_iter()
        .map(|((d, node), mut writes)| {
            writes.sort_by_key(|w| (w.last().time, w.last().index));
            let decl = &decls[d];
            let (first, last) = (writes[0], writes[writes.len() - 1]);
            let end = last.last().time.max(decl.time);
            let events = faults::narrative(history, decl.time.saturating_sub(EVENTS_LOOKBACK_NS), end, EVENTS_QUOTED);
            let explanation = format!(
                "{} was declared master at {:.1} ms (op {}), yet {node} went on acknowledging writes \
                 invoked after that: {} write(s), the first ops {:?} (invoked {:.1} ms), the last \
                 ops {:?} (completed {:.1} ms). From {:.1} ms to {:.1} ms ({:.1} ms) two nodes acted \
                 as master; the writes {node} acknowledged there are lost if it rejoins the \
                 cluster as a replica and resynchronises (lost-writes says whether they were). \
                 Master changes and faults around it: {events}.",
                decl.node,
                decl.time as f64 / 1e6,
                decl.index,
                writes.len(),
                first.indices(),
                first.invoke.time_ms(),
                last.indices(),
                last.last().time_ms(),
                decl.time as f64 / 1e6,
                end as f64 / 1e6,
                (end - decl.time) as f64 / 1e6,
            );
            let mut ops = vec![decl.index];
            ops.extend(first.indices());
            ops.extend(last.indices().into_iter().filter(|i| !ops.contains(i)).collect::<Vec<_>>());
            let details = json!({
                "nodes": [node, decl.node],
                "witness": "deposed-master",
                "start_ms": decl.time as f64 / 1e6,
                "end_ms": end as f64 / 1e6,
                "writes": {node: writes.len()},
            });
            (Anomaly::new(kind::SPLIT_BRAIN, ops, explanation).with_details(details), end - decl.time)
        })
        .collect()
}

/// How many times `node` had been declared master before `time`.
fn reign_number(decls: &[Declaration], node: &str, time: u64) -> usize {
    decls
        .iter()
        .filter(|d| d.node == node && d.time < time)
        .count()
}

/// A witness chain x1 < y < x2 (strict real-time precedence) with x1, x2 in `x` and y in `y`.
#[derive(Clone, Copy)]
struct Chain<'a> {
    x1: Operation<'a>,
    y: Operation<'a>,
    x2: Operation<'a>,
}

fn interleaving<'a>(x: &Reign<'a>, y: &Reign<'a>) -> Option<Chain<'a>> {
    let x1 = *x.writes.iter().min_by_key(|w| w.last().time)?;
    let x2 = *x.writes.iter().max_by_key(|w| w.invoke.time)?;
    let y = *y
        .writes
        .iter()
        .find(|w| x1.last().time < w.invoke.time && w.last().time < x2.invoke.time)?;
    Some(Chain { x1, y, x2 })
}

fn explain(history: &History, a: &Reign<'_>, b: &Reign<'_>, c: Chain<'_>) -> (Anomaly, u64) {
    let start = a.first_end().max(b.first_end());
    let end = a.last_end().min(b.last_end());
    let inside = |r: &Reign<'_>| {
        let ws: Vec<&Operation<'_>> = r
            .writes
            .iter()
            .filter(|w| (start..=end).contains(&w.last().time))
            .collect();
        let first = ws.first().map(|w| w.last().index);
        let last = ws.last().map(|w| w.last().index);
        (ws.len(), first, last)
    };
    let (a_count, a_first, a_last) = inside(a);
    let (b_count, b_first, b_last) = inside(b);
    let mut ops: Vec<u64> = Vec::new();
    for i in
        c.x1.indices()
            .into_iter()
            .chain(c.y.indices())
            .chain(c.x2.indices())
            .chain([a_first, a_last, b_first, b_last].into_iter().flatten())
    {
        if !ops.contains(&i) {
            ops.push(i);
        }
    }
    let later_start = a.writes[0].invoke.time.max(b.writes[0].invoke.time);
    let events = faults::narrative(
        history,
        later_start.saturating_sub(EVENTS_LOOKBACK_NS),
        end,
        EVENTS_QUOTED,
    );
    let x = node_of(&c.x1).unwrap_or("?");
    let y = node_of(&c.y).unwrap_or("?");
    let explanation = format!(
        "Nodes {} and {} both acknowledged writes between {:.1} ms and {:.1} ms ({:.1} ms): \
         {x} acknowledged ops {:?} (completed {:.1} ms), then {y} acknowledged ops {:?} \
         (invoked {:.1} ms, completed {:.1} ms), then {x} acknowledged ops {:?} again (invoked \
         {:.1} ms), each strictly after the previous, which no single master can explain. In \
         that interval {} acknowledged {a_count} write(s) and {} acknowledged {b_count}. Master \
         changes and faults around it: {events}.",
        a.node,
        b.node,
        start as f64 / 1e6,
        end as f64 / 1e6,
        (end - start) as f64 / 1e6,
        c.x1.indices(),
        c.x1.last().time_ms(),
        c.y.indices(),
        c.y.invoke.time_ms(),
        c.y.last().time_ms(),
        c.x2.indices(),
        c.x2.invoke.time_ms(),
        a.node,
        b.node,
    );
    let details = json!({
        "nodes": [a.node, b.node],
        "reigns": [a.number, b.number],
        "start_ms": start as f64 / 1e6,
        "end_ms": end as f64 / 1e6,
        "writes": {a.node: a_count, b.node: b_count},
    });
    (
        Anomaly::new(kind::SPLIT_BRAIN, ops, explanation).with_details(details),
        end - start,
    )
}

#[cfg(test)]
mod tests;
