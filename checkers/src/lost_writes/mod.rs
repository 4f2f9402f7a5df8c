//! The lost-writes checker (set and wait workloads): acknowledged adds missing from the final
//! read of the post-failover master, after Jepsen's `set-full`.
//!
//! - [`analysis`]: the per-element timeline (known time, last seen, last missed, fate,
//!   visibility latency), shared with the wait checker.
//! - [`element`]: a set's element, an integer or any other value.
//! - [`faults`]: the nemesis narrative quoted in explanations (shared with wait, split-brain),
//!   and the one definition of the fault that lost a write.
//! - [`window`]: each lost write's age at the fault that lost it (`--expect lost-within=MS`).
//! - [`evidence`]: the node's `INFO persistence` at that fault, from the run's telemetry.
//!
//! Verdicts (DESIGN.md section 4): an `ok` add absent from the master's final read, which began
//! after the add was known, is `lost`; so is an `info` add that some read saw and the final read
//! no longer has (it was known to exist: Jepsen's rule). An `info` add present is *recovered*
//! (a statistic), an `info` add nobody saw is *never read* (it may not have happened). A `fail`
//! add seen by any read is `failed-but-visible`; an element no add attempted is `unexpected`; a
//! replica whose final read differs from the master's is `divergent`. Without a final master
//! read nothing can be lost, so the verdict is `unknown`.

pub mod analysis;
pub mod element;
pub mod evidence;
pub mod faults;
pub mod window;

use crate::final_reads::FinalReads;
use crate::history::{History, NemesisValue};
use crate::names::{kind, stat};
use crate::quantiles::{quantile, sorted};
use crate::registry::CheckOptions;
use crate::result::{Anomaly, Brief, CheckResult, Validity};
use crate::shards::attribution;
use crate::shards::timeline::Timeline;
use crate::telemetry::Telemetry;
use analysis::{AddStatus, Element, Fate, KeyAnalysis, SetAnalysis, SetRead};
use element::SetElement;
use faults::FaultLog;
use serde_json::{json, Map, Value};
use window::Charge;

pub use analysis::analyse;

/// How many fault records an explanation quotes before "and N more".
const FAULTS_QUOTED: usize = 8;
/// How many keys `lost_by_key` names.
const KEYS_LISTED: usize = 10;
/// How many lost elements of a run are anomalies with the whole story (how it was acknowledged,
/// the last read that saw it, the faults since); the rest are counted in `omitted` and kept in
/// brief ([`Brief`]: key, element, witness ops, fault). A run that loses millions of adds (a
/// master restarted empty) took several times its history's size in memory with a full
/// anomaly each; the first ones (those in `results.json`) are explained in full.
const FULLY_EXPLAINED: usize = 100;

/// Checks a set (or wait) history for lost, unexpected, failed-but-visible and divergent
/// elements. Skipped when the history has no adds and no set reads.
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    let analysis = analyse(history);
    if analysis.keys.is_empty() && analysis.unjudged == 0 {
        return CheckResult::skipped("no add operations and no set reads in the history");
    }
    let context = Context {
        history,
        faults: FaultLog::new(history),
        telemetry: &opts.telemetry,
        final_reads: &analysis.final_reads,
        timeline: Timeline::of(history),
    };
    let lost = charged_losses(&context, &analysis);
    let mut anomalies = Vec::new();
    let mut briefs = Vec::new();
    let mut explained = 0;
    let mut rest = lost.as_slice();
    for key in &analysis.keys {
        // `lost` is in key order: this key's losses are the front of the rest.
        let n = rest
            .iter()
            .take_while(|(k, _, _)| std::ptr::eq(*k, key))
            .count();
        let (of_key, after) = rest.split_at(n);
        rest = after;
        lost_anomalies(
            &context,
            key,
            of_key,
            &mut explained,
            &mut anomalies,
            &mut briefs,
        );
        anomalies.extend(failed_but_visible(key));
        if !analysis.keys_with_unjudged_adds.contains(&key.key) {
            anomalies.extend(unexpected(key));
        }
        anomalies.extend(divergent(&analysis, key));
    }
    let mut stats = stats(&analysis, &anomalies);
    window::stats(&lost, &mut stats);
    let mut result = CheckResult::from_anomalies(anomalies, stats);
    if !briefs.is_empty() {
        result
            .omitted
            .insert(kind::LOST.into(), briefs.len() as u64);
    }
    result.briefs = briefs;
    result.notes = analysis.notes.clone();
    let undecided = undecided_keys(&analysis);
    if analysis.unjudged > 0 && result.valid == Validity::Valid {
        result.valid = Validity::Unknown;
    }
    if !undecided.is_empty() {
        result.notes.extend(undecided);
        if result.valid == Validity::Valid {
            result.valid = Validity::Unknown;
        }
    }
    result
}

/// Notes for keys with attempted elements but no successful final read on the master.
fn undecided_keys(analysis: &SetAnalysis<'_>) -> Vec<String> {
    analysis
        .keys
        .iter()
        .filter(|k| k.final_read.is_none() && !k.elements.is_empty())
        .map(
            |k| match analysis.final_reads.master_for(k.key.as_deref()) {
                None => format!(
                    "key {}: the history has no final read, so no write can be judged lost \
                 (was the run interrupted before the final reads?)",
                    key_name(k)
                ),
                Some(m) => {
                    let failed = analysis.final_reads.failed(k.key.as_deref());
                    let failed: Vec<String> =
                        failed.iter().map(|o| o.invoke.index.to_string()).collect();
                    format!(
                        "key {}: no successful final read on the post-failover master {m} \
                     (unsuccessful final reads: ops [{}]), so no write can be judged lost",
                        key_name(k),
                        failed.join(", ")
                    )
                }
            },
        )
        .collect()
}

fn key_name(k: &KeyAnalysis<'_>) -> String {
    k.key.as_deref().unwrap_or("(none)").to_string()
}

fn node_words(node: Option<&str>) -> String {
    node.map_or("an unrecorded node".to_string(), |n| n.to_string())
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// What every lost write's explanation draws on.
struct Context<'h, 'o> {
    history: &'h History,
    faults: FaultLog<'h>,
    telemetry: &'o Telemetry,
    /// The final reads, and the post-failover master of each key.
    final_reads: &'o FinalReads<'h>,
    /// A cluster's primaries and slots over time (empty for a single master).
    timeline: Timeline,
}

/// A lost element of a key, with the fault charged with its loss.
type LostWrite<'a, 'h> = (&'a KeyAnalysis<'h>, &'a Element<'h>, Option<Charge<'h>>);

/// Every lost element, with its charge (looked for up to its key's final read).
fn charged_losses<'a, 'h>(c: &Context<'h, '_>, a: &'a SetAnalysis<'h>) -> Vec<LostWrite<'a, 'h>> {
    a.keys
        .iter()
        .filter_map(|k| Some((k, k.reads[k.final_read?].invoke_time())))
        .flat_map(|(k, until)| {
            k.elements
                .iter()
                .filter(|e| e.fate == Some(Fate::Lost))
                .map(move |e| (k, e, window::charge(&c.faults, e, until)))
        })
        .collect()
}

/// The lost elements of `key` (`lost`, all of its losses): a `lost` anomaly each while the run
/// has explained fewer than [`FULLY_EXPLAINED`] (`explained`), a [`Brief`] each after that.
fn lost_anomalies(
    c: &Context<'_, '_>,
    key: &KeyAnalysis<'_>,
    lost: &[LostWrite<'_, '_>],
    explained: &mut usize,
    anomalies: &mut Vec<Anomaly>,
    briefs: &mut Vec<Brief>,
) {
    let Some(f) = key.final_read else {
        return;
    };
    let final_read = &key.reads[f];
    let master = c.final_reads.describe_master(key.key.as_deref());
    let name = key.key.clone();
    for (_, e, charge) in lost {
        if *explained < FULLY_EXPLAINED {
            *explained += 1;
            let anomaly = explain_lost(c, key, e, final_read, &master, charge.as_ref());
            anomalies.push(attribution::annotate(
                anomaly,
                c.history,
                &c.timeline,
                &e.add,
            ));
            continue;
        }
        let mut ops = e.add.indices();
        ops.extend(final_read.op.indices());
        let fault_op = charge.as_ref().map(|c| c.fault.index);
        ops.extend(fault_op);
        briefs.push(Brief {
            kind: kind::LOST,
            ops,
            key: name.clone(),
            element: e.element.to_json(),
            fault_op,
        });
    }
}

/// A lost element's anomaly, with the whole story.
fn explain_lost(
    c: &Context<'_, '_>,
    key: &KeyAnalysis<'_>,
    e: &Element<'_>,
    final_read: &SetRead<'_>,
    master: &str,
    charge: Option<&Charge<'_>>,
) -> Anomaly {
    let mut ops = e.add.indices();
    let acknowledged = match e.status {
        AddStatus::Ok => "acknowledged",
        _ => "seen",
    };
    let mut explanation = story_of_lost(c.history, key, e, final_read, master, &mut ops);
    explanation.push(' ');
    explanation.push_str(&window::words(charge, acknowledged));
    if charge.is_none() {
        let at = e.known.map_or(e.add.last().time, |k| k.0);
        let events = faults::sentinel_failovers_under_way(
            c.history,
            at,
            final_read.invoke_time(),
            FAULTS_QUOTED,
        );
        if !events.is_empty() {
            ops.extend(events.iter().map(|o| o.index));
            let words: Vec<String> = events.iter().map(|o| faults::describe(o)).collect();
            explanation.push_str(&format!(
                " A Sentinel failover was under way when it was {acknowledged} (begun before, \
                 not ended): {}.",
                words.join("; ")
            ));
        }
    }
    let node = crate::final_reads::node_of(&e.add);
    if let Some(charge) = charge {
        ops.push(charge.fault.index);
        let at = node.or_else(|| NemesisValue(&charge.fault.value).nodes().first().copied());
        let words = at.and_then(|n| {
            let started = c.faults.started_before(n, charge.fault.time);
            evidence::at_fault(c.telemetry, n, charge.fault, started)
        });
        if let Some(words) = words {
            explanation.push_str(&format!(" {words}."));
        }
    }
    let mut anomaly = Anomaly::new(kind::LOST, ops, explanation).with_details(json!({
        "element": e.element,
        "status": status_word(e.status),
        "acknowledged_by": node,
        "known_ms": e.known.map(|k| ms(k.0)),
        "last_seen_op": e.last_seen.map(|s| key.reads[s].invoke_index()),
        "fault_op": charge.map(|c| c.fault.index),
        "fault_ms": charge.map(|c| c.fault.time_ms()),
        "age_ms": charge.map(|c| (c.age_ms * 10.0).round() / 10.0),
    }));
    if let Some(k) = &key.key {
        anomaly = anomaly.with_key(k);
    }
    anomaly
}

/// The whole story of a lost element; adds the ops it cites to `ops`.
fn story_of_lost(
    history: &History,
    key: &KeyAnalysis<'_>,
    e: &Element<'_>,
    final_read: &SetRead<'_>,
    master: &str,
    ops: &mut Vec<u64>,
) -> String {
    let how = match e.status {
        AddStatus::Ok => format!(
            "acknowledged ok by {} at {:.1} ms",
            node_words(crate::final_reads::node_of(&e.add)),
            e.add.last().time_ms()
        ),
        _ => {
            let (t, i) = e.known.unwrap_or((0, 0));
            format!(
                "indeterminate (info), but read op {i} saw it at {:.1} ms, so it happened",
                ms(t)
            )
        }
    };
    let seen = match e.last_seen.map(|s| &key.reads[s]) {
        Some(r) => {
            ops.extend(r.op.indices());
            format!(
                "the last read that saw it was ops {:?} on {} (invoked at {:.1} ms)",
                r.op.indices(),
                node_words(r.node()),
                ms(r.invoke_time())
            )
        }
        None => "no read ever saw it".to_string(),
    };
    ops.extend(final_read.op.indices());
    let from = e.known.map_or(e.add.invoke.time, |k| k.0);
    let faults = faults::narrative(history, from, final_read.invoke_time(), FAULTS_QUOTED);
    format!(
        "Element {} of key {} was added by process {} (ops {:?}) and {how}; {seen}. It is absent \
         from the final read of the post-failover master {master} (ops {:?}, invoked at {:.1} \
         ms, {} elements). Faults between then and the final read: {faults}.",
        e.element,
        key_name(key),
        e.add.invoke.process,
        e.add.indices(),
        final_read.op.indices(),
        ms(final_read.invoke_time()),
        final_read.size,
    )
}

fn status_word(s: AddStatus) -> &'static str {
    match s {
        AddStatus::Ok => "ok",
        AddStatus::Info => "info",
        AddStatus::Fail => "fail",
    }
}

/// `fail` adds that some read (final or not) returned: the failure claimed they did not happen.
fn failed_but_visible(key: &KeyAnalysis<'_>) -> Vec<Anomaly> {
    key.elements
        .iter()
        .filter(|e| e.status == AddStatus::Fail)
        .filter_map(|e| {
            let r = &key.reads[e.first_seen?];
            let mut ops = e.add.indices();
            ops.extend(r.op.indices());
            let error = e.add.last().error.as_deref().unwrap_or("no error text");
            let explanation = format!(
                "Element {} of key {}: its add (ops {:?}) failed ({error}) at {:.1} ms, which \
                 means it did not happen, yet read ops {:?} on {} (completed at {:.1} ms) \
                 returned it.",
                e.element,
                key_name(key),
                e.add.indices(),
                e.add.last().time_ms(),
                r.op.indices(),
                node_words(r.node()),
                ms(r.complete_time()),
            );
            Some(with_key(
                Anomaly::new(kind::FAILED_BUT_VISIBLE, ops, explanation),
                key,
            ))
        })
        .collect()
}

fn with_key(a: Anomaly, key: &KeyAnalysis<'_>) -> Anomaly {
    match &key.key {
        Some(k) => a.with_key(k),
        None => a,
    }
}

/// Elements returned by a read that no add ever attempted.
fn unexpected(key: &KeyAnalysis<'_>) -> Vec<Anomaly> {
    key.unexpected
        .iter()
        .map(|u| {
            let r = &key.reads[u.read];
            let explanation = format!(
                "Read ops {:?} on {} (completed at {:.1} ms) returned element {} of key {}, \
                 which no add in the history ever attempted.",
                r.op.indices(),
                node_words(r.node()),
                ms(r.complete_time()),
                u.element,
                key_name(key),
            );
            with_key(
                Anomaly::new(kind::UNEXPECTED, r.op.indices(), explanation),
                key,
            )
        })
        .collect()
}

/// One `divergent` anomaly per replica whose final read differs from the master's.
fn divergent(a: &SetAnalysis<'_>, key: &KeyAnalysis<'_>) -> Vec<Anomaly> {
    let Some(f) = key.final_read else {
        return Vec::new();
    };
    let master = &key.reads[f];
    let master_node = a
        .final_reads
        .master_for(key.key.as_deref())
        .unwrap_or_else(|| "?".to_string());
    key.divergences
        .iter()
        .map(|d| {
            let r = &key.replica_finals[d.replica_read];
            let (missing, extra) = (&d.missing, &d.extra);
            let mut ops = master.op.indices();
            ops.extend(r.op.indices());
            let explanation = format!(
                "After healing, replica {}'s final read of key {} (ops {:?}) has {} elements but \
                 the post-failover master {master_node}'s (ops {:?}) has {}: missing on the \
                 replica {} ({} in all), extra on the replica {} ({} in all). The replica did \
                 not converge to the master.",
                node_words(r.node()),
                key_name(key),
                r.op.indices(),
                r.size,
                master.op.indices(),
                master.size,
                list_words(&missing.0),
                missing.1,
                list_words(&extra.0),
                extra.1,
            );
            with_key(Anomaly::new(kind::DIVERGENT, ops, explanation), key).with_details(json!({
                "replica": r.node(),
                "missing": missing.0,
                "extra": extra.0,
                "missing_count": missing.1,
                "extra_count": extra.1,
            }))
        })
        .collect()
}

fn list_words(v: &[SetElement]) -> String {
    let items: Vec<String> = v.iter().map(SetElement::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// The statistics DESIGN.md names, summed over keys.
fn stats(a: &SetAnalysis<'_>, anomalies: &[Anomaly]) -> Map<String, Value> {
    let all: Vec<&Element<'_>> = a.keys.iter().flat_map(|k| &k.elements).collect();
    let count = |p: &dyn Fn(&Element<'_>) -> bool| all.iter().filter(|e| p(e)).count();
    let kind = |k: &str| anomalies.iter().filter(|x| x.kind == k).count();
    let latencies = sorted(all.iter().filter_map(|e| e.visibility_ms).collect());
    let mut lost: Vec<SetElement> = all
        .iter()
        .filter(|e| e.fate == Some(Fate::Lost))
        .map(|e| e.element.clone())
        .collect();
    lost.sort_unstable();
    let mut m = Map::new();
    m.insert(stat::ATTEMPTED.into(), json!(all.len()));
    m.insert(
        "acknowledged".into(),
        json!(count(&|e| e.status == AddStatus::Ok)),
    );
    m.insert(
        "indeterminate".into(),
        json!(count(&|e| e.status == AddStatus::Info)),
    );
    m.insert(
        "failed".into(),
        json!(count(&|e| e.status == AddStatus::Fail)),
    );
    m.insert(stat::LOST.into(), json!(lost.len()));
    m.insert(
        "recovered".into(),
        json!(count(&|e| e.status == AddStatus::Info && e.in_final)),
    );
    m.insert(stat::UNEXPECTED.into(), json!(kind(kind::UNEXPECTED)));
    m.insert(
        "never_read".into(),
        json!(count(&|e| e.fate == Some(Fate::NeverRead))),
    );
    m.insert(
        "stable".into(),
        json!(count(&|e| e.fate == Some(Fate::Stable))),
    );
    m.insert(
        "stale".into(),
        json!(count(&|e| e.visibility_ms.is_some_and(|v| v > 0.0))),
    );
    m.insert(
        "failed_but_visible".into(),
        json!(kind(kind::FAILED_BUT_VISIBLE)),
    );
    m.insert("divergent".into(), json!(kind(kind::DIVERGENT)));
    for (name, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)] {
        m.insert(
            format!("visibility_ms_{name}"),
            json!(quantile(&latencies, q)),
        );
    }
    m.insert("final_master".into(), json!(a.final_reads.master_node()));
    m.insert("lost_elements".into(), json!(lost));
    m.insert(stat::KEYS.into(), json!(a.keys.len()));
    m.insert("lost_by_key".into(), lost_by_key(a));
    m
}

/// The keys that lost elements, most first (at most [`KEYS_LISTED`]), `{key, lost}` each: with
/// bounded sets a run has thousands of keys, and where the losses are says when they happened.
fn lost_by_key(a: &SetAnalysis<'_>) -> Value {
    let mut by_key: Vec<(String, usize)> = a
        .keys
        .iter()
        .map(|k| {
            let lost = k.elements.iter().filter(|e| e.fate == Some(Fate::Lost));
            (key_name(k), lost.count())
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    by_key.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    by_key.truncate(KEYS_LISTED);
    by_key
        .into_iter()
        .map(|(key, lost)| json!({"key": key, "lost": lost}))
        .collect()
}

#[cfg(test)]
mod tests;
