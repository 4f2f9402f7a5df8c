//! Turning a cycle into an anomaly a person can check by hand: each step says which key and
//! which values make one transaction precede the next, and the consistency models the anomaly
//! rules out.
//!
//! Justifications are recomputed from the version orders for the cycle's few edges rather than
//! stored for every edge of the graph (Elle's explainers do the same).

use super::cycles::{Cycle, Step};
use super::graph::Label;
use super::micro_op::{MopKind, Txns};
use super::version_order::{VersionOrders, NO_VERSION};
use crate::consistency_model;
use crate::result::Anomaly;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The weakest consistency models one anomaly of `kind` rules out (Elle's `not`), in Elle's
/// friendly names; see [`crate::consistency_model`]. Remembered per kind: a history may have
/// thousands of anomalies of a handful of kinds.
pub fn models_ruled_out(kind: &str) -> Vec<String> {
    static KNOWN: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(models) = known.lock().ok().and_then(|k| k.get(kind).cloned()) {
        return models;
    }
    let models: Vec<String> = consistency_model::boundary(&[kind]).0.into_iter().collect();
    if let Ok(mut k) = known.lock() {
        k.insert(kind.to_string(), models.clone());
    }
    models
}

/// Says why one transaction precedes the next through a data dependency (ww, wr or rw),
/// given the names of the two; `None` when it cannot tell.
pub type DataJustifier<'a> = dyn Fn(&Step, &str, &str) -> Option<String> + 'a;

/// The anomaly for a list-append cycle: witnesses are the completion op indices of its
/// transactions.
pub fn cycle_anomaly(cycle: &Cycle, txns: &Txns, vo: &VersionOrders) -> Anomaly {
    cycle_anomaly_with(cycle, txns, &|step, an, bn| {
        justify_data(step, txns, vo, an, bn)
    })
}

/// The anomaly for a cycle, data steps explained by `data`, order steps here.
pub fn cycle_anomaly_with(cycle: &Cycle, txns: &Txns, data: &DataJustifier<'_>) -> Anomaly {
    let kind = cycle.kind();
    let names: Vec<u32> = cycle.steps.iter().map(|s| s.from).collect();
    let name = |t: u32| {
        let i = names.iter().position(|&n| n == t).unwrap_or(0);
        format!("T{}", i + 1)
    };
    let mut sentences = Vec::new();
    let mut steps_json = Vec::new();
    for (i, step) in cycle.steps.iter().enumerate() {
        let why = justify(step, txns, data, &name);
        let (a, b) = (&txns.txns[step.from as usize], &txns.txns[step.to as usize]);
        // Each transaction is introduced with its op index the first time it appears.
        let lead = if i == 0 {
            format!(
                "{} (op {}) < {} (op {})",
                name(step.from),
                a.index,
                name(step.to),
                b.index
            )
        } else if i + 1 == cycle.steps.len() {
            format!("{} < {}", name(step.from), name(step.to))
        } else {
            format!("{} < {} (op {})", name(step.from), name(step.to), b.index)
        };
        sentences.push(format!("{lead} because {why}"));
        steps_json.push(json!({
            "from": a.index, "to": b.index, "type": label_name(step.label), "why": why,
        }));
    }
    let models = models_ruled_out(&kind);
    let ops: Vec<u64> = names.iter().map(|&t| txns.txns[t as usize].index).collect();
    let explanation = format!(
        "{}: a contradiction ({kind}: a dependency cycle of {} transactions in a strongly \
         connected component of {}; not: {}).",
        sentences.join("; "),
        cycle.steps.len(),
        cycle.scc_size,
        models.join(", ")
    );
    Anomaly::new(&kind, ops.clone(), explanation).with_details(json!({
        "cycle": ops,
        "steps": steps_json,
        "scc": cycle.scc,
        "scc_size": cycle.scc_size,
        "not": models,
    }))
}

/// The name of a single-label edge.
pub fn label_name(label: u8) -> &'static str {
    Label::ALL
        .iter()
        .find(|(l, _)| *l == label)
        .map_or("?", |(_, n)| n)
}

/// Why `step.from` precedes `step.to`, in words.
fn justify(
    step: &Step,
    txns: &Txns,
    data: &DataJustifier<'_>,
    name: &dyn Fn(u32) -> String,
) -> String {
    let (a, b) = (step.from, step.to);
    let (an, bn) = (name(a), name(b));
    let found = match step.label {
        Label::WW | Label::WR | Label::RW => data(step, &an, &bn),
        Label::PROCESS => Some(format!(
            "process {} ran {an} and then {bn}",
            txns.txns[a as usize].process
        )),
        Label::REALTIME => {
            let (ta, tb) = (&txns.txns[a as usize], &txns.txns[b as usize]);
            Some(if txns.times_from_index {
                format!(
                    "{an} completed (op {}) before {bn} was invoked (op {})",
                    ta.index, tb.invoke_index
                )
            } else {
                format!(
                    "{an} completed at {:.3} ms, before {bn} was invoked at {:.3} ms",
                    ta.end.unwrap_or(0) as f64 / 1e6,
                    tb.start as f64 / 1e6
                )
            })
        }
        _ => None,
    };
    found.unwrap_or_else(|| format!("of a {} dependency", label_name(step.label)))
}

/// Why `step.from` precedes `step.to` through a list-append dependency.
fn justify_data(
    step: &Step,
    txns: &Txns,
    vo: &VersionOrders,
    an: &str,
    bn: &str,
) -> Option<String> {
    let (a, b) = (step.from, step.to);
    let writer = |k: u32, e| vo.writers.get(&(k, e)).map(|w| w.txn);
    match step.label {
        Label::WW => justify_ww(a, b, txns, vo, an, bn),
        Label::WR => reads_of(txns, vo, b).find_map(|(k, v)| {
            let e = *vo.orders[k as usize].get((v as usize).checked_sub(1)?)?;
            (writer(k, e) == Some(a)).then(|| {
                format!(
                    "{bn} read {an}'s append of {} to key {}",
                    txns.elem_name(e),
                    txns.key_name(k)
                )
            })
        }),
        Label::RW => reads_of(txns, vo, a).find_map(|(k, v)| {
            let order = &vo.orders[k as usize];
            let next = match order.get(v as usize) {
                Some(&e) => (writer(k, e) == Some(b)).then_some(e)?,
                None => txns.mops_of(b as usize).iter().find_map(|m| match m.kind {
                    MopKind::Append(e) if m.key == k && !vo.position.contains_key(&(k, e)) => {
                        Some(e)
                    }
                    _ => None,
                })?,
            };
            let seen = match v {
                0 => "empty".to_string(),
                _ => format!("ending in {}", txns.elem_name(order[v as usize - 1])),
            };
            Some(format!(
                "{an} read key {} ({seen}) before {bn} appended {} to it",
                txns.key_name(k),
                txns.elem_name(next)
            ))
        }),
        _ => None,
    }
}

/// Why `b` follows `a` in a key's version order (ww).
fn justify_ww(
    a: u32,
    b: u32,
    txns: &Txns,
    vo: &VersionOrders,
    an: &str,
    bn: &str,
) -> Option<String> {
    let writer = |k: u32, e| vo.writers.get(&(k, e)).map(|w| w.txn);
    txns.mops_of(b as usize).iter().find_map(|m| {
        let MopKind::Append(e2) = m.kind else {
            return None;
        };
        let order = &vo.orders[m.key as usize];
        let (prev, observed) = match vo.position.get(&(m.key, e2)) {
            Some(&p) if p > 0 => (order[p as usize - 1], true),
            Some(_) => return None,
            None => (*order.last()?, false),
        };
        (writer(m.key, prev) == Some(a)).then(|| {
            format!(
                "{bn} appended {} to key {} after {an} appended {}{}",
                txns.elem_name(e2),
                txns.key_name(m.key),
                txns.elem_name(prev),
                if observed {
                    ""
                } else {
                    " (the last element any read saw; no read saw the later append)"
                }
            )
        })
    })
}

/// (key, observed version) of each usable read of transaction `t`.
fn reads_of<'a>(
    txns: &'a Txns,
    vo: &'a VersionOrders,
    t: u32,
) -> impl Iterator<Item = (u32, u32)> + 'a {
    let txn = &txns.txns[t as usize];
    (txn.mop_start..txn.mop_start + txn.mop_len).filter_map(move |m| {
        let mop = txns.mops[m as usize];
        let v = vo.read_version[m as usize];
        (matches!(mop.kind, MopKind::Read { .. }) && v != NO_VERSION).then_some((mop.key, v))
    })
}

/// A list for an explanation, shortened in the middle when long.
pub fn show_list(txns: &Txns, list: &[i64]) -> String {
    let show = |s: &[i64]| {
        s.iter()
            .map(|&e| txns.elem_name(e))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if list.len() <= 12 {
        format!("[{}]", show(list))
    } else {
        format!(
            "[{}, ... ({} more) ..., {}]",
            show(&list[..5]),
            list.len() - 10,
            show(&list[list.len() - 5..])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_anomaly_names_the_weakest_models_it_rules_out() {
        assert_eq!(models_ruled_out("G0"), ["read-uncommitted"]);
        assert_eq!(models_ruled_out("G1c"), ["read-committed"]);
        assert_eq!(models_ruled_out("G2-item"), ["repeatable-read"]);
        assert_eq!(
            models_ruled_out("G-single-item"),
            ["consistent-view", "repeatable-read"]
        );
        assert_eq!(models_ruled_out("internal"), ["read-atomic"]);
        assert_eq!(models_ruled_out("incompatible-order"), ["read-committed"]);
        assert_eq!(
            models_ruled_out("G2-item-realtime"),
            ["strong-serializable"]
        );
        assert_eq!(
            models_ruled_out("G0-process"),
            ["strong-session-read-uncommitted"]
        );
        assert!(models_ruled_out("no-such-kind").is_empty());
    }
}
