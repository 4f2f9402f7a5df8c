//! txn-cycles: Elle's list-append checker (Kingsbury & Alvaro, VLDB 2020) on petgraph.
//!
//! The pipeline, one file per concept:
//! - [`micro_op`]: transactions of the history in a compact form (interned keys, flat micro-ops).
//! - [`stream`]: the same, read straight from a JSONL file without building a `History`.
//! - [`version_order`]: each key's version order from its longest read; the version every other
//!   read observed; incompatible orders and duplicate elements.
//! - [`anomalies`]: what needs no graph: G1a, G1b, internal, dirty-update, lost-update.
//! - [`graph`]: ww / wr / rw edges from the orders, process and real-time edges (a transitive
//!   reduction), in a petgraph `Csr`.
//! - [`cycles`]: Tarjan SCCs, then the shortest cycle of each class (G0, G1c, G-single-item,
//!   G-nonadjacent-item, G2-item, and their -process / -realtime variants) inside each SCC.
//! - [`explain`]: step-by-step explanations and the consistency models each anomaly rules out.
//!
//! Which transactions count: `ok` committed; `fail` did not (its appends are only evidence of
//! G1a and dirty updates); `info` may have committed, so its appends are writers when observed
//! and it takes part in the graph (Elle's "possible" history).
//!
//! Verdict: `false` when any anomaly is found; `unknown` when nothing was found but the cycle
//! search budget (`CheckOptions::txn_scc_time_budget`, per SCC) ran out in an SCC before any
//! cycle of it was found, or some micro-ops were not appends or reads (Elle likewise refuses
//! to judge such histories); never `true` with anything left undecided.

pub mod anomalies;
pub mod cycles;
pub mod explain;
pub mod graph;
pub mod micro_op;
pub mod stream;
pub mod version_order;

use crate::history::{History, OpType};
use crate::names::stat;
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult, Validity};
use graph::Label;
use micro_op::MopKind;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Checks a list-append history for Elle's anomalies. Skipped when it has no `txn` operations.
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    check_txns(micro_op::extract(history), opts)
}

/// Checks transactions read by [`stream::read`] (or extracted by [`micro_op::extract`]): the
/// same result as [`check`] on the history they came from, without holding that history.
pub fn check_txns(txns: Option<micro_op::Txns>, opts: &CheckOptions) -> CheckResult {
    let Some(txns) = txns else {
        return CheckResult::skipped("the history has no txn (list-append) operations");
    };
    let vo = version_order::infer(&txns);
    let (mut found, g) = rayon::join(
        || {
            let mut a = anomalies::order_anomalies(&txns, &vo);
            a.extend(anomalies::aborted_and_intermediate_reads(&txns, &vo));
            a.extend(anomalies::internal(&txns));
            a.extend(anomalies::dirty_updates(&txns, &vo));
            a.extend(anomalies::lost_updates(&txns));
            a
        },
        || graph::build(&txns, &vo),
    );
    let outcome = cycles::search(&g, opts.txn_scc_time_budget);
    found.extend(
        outcome
            .cycles
            .iter()
            .map(|c| explain::cycle_anomaly(c, &txns, &vo)),
    );
    let mut stats = base_stats(&txns, &vo, &g);
    stats.insert("sccs".into(), Value::from(outcome.scc_sizes.len()));
    stats.insert(
        "largest_scc".into(),
        Value::from(outcome.scc_sizes.iter().copied().max().unwrap_or(0)),
    );
    stats.insert("searches_cut_short".into(), Value::from(outcome.cut_short));
    add_anomaly_stats(&found, &mut stats);
    let mut notes = Vec::new();
    notes_for(&txns, &vo, &mut notes);
    for (scc, size, member) in &outcome.exhausted {
        notes.push(format!(
            "cycle search budget ({:?}) ran out in SCC #{scc} ({size} transactions, including \
             op {}) before any cycle was found",
            opts.txn_scc_time_budget, txns.txns[*member as usize].index
        ));
    }
    if outcome.scc_failed {
        notes.push(
            "the SCC computation could not run (no thread for its stack): cycles unknown".into(),
        );
    }
    let mut result = CheckResult::from_anomalies(found, stats);
    // Micro-ops we could not read (say, rw-register writes) hide dependencies: no `true` then.
    let undecided = !outcome.exhausted.is_empty()
        || outcome.scc_failed
        || !txns.malformed.is_empty()
        || foreign_mops(&txns) > 0;
    if result.valid == Validity::Valid && undecided {
        result.valid = Validity::Unknown;
    }
    result.notes = notes;
    result
}

/// Counts of transactions, keys and edges.
fn base_stats(
    txns: &micro_op::Txns,
    vo: &version_order::VersionOrders,
    g: &graph::DepGraph,
) -> Map<String, Value> {
    let count = |o: OpType| txns.txns.iter().filter(|t| t.outcome == o).count();
    let mut edges = Map::new();
    let mut by_label = [0usize; 5];
    for &mask in (0..g.node_count() as u32).flat_map(|n| g.edges_slice(n)) {
        for (i, (l, _)) in Label::ALL.iter().enumerate() {
            if mask & l != 0 {
                by_label[i] += 1;
            }
        }
    }
    for (i, (_, name)) in Label::ALL.iter().enumerate() {
        edges.insert((*name).into(), Value::from(by_label[i]));
    }
    let mut stats = Map::new();
    stats.insert(
        "txns".into(),
        json!({
            "total": txns.txns.len(),
            "ok": count(OpType::Ok),
            "info": count(OpType::Info),
            "fail": count(OpType::Fail),
        }),
    );
    stats.insert("keys".into(), Value::from(txns.key_names.len()));
    stats.insert(
        "observed_appends".into(),
        Value::from(vo.orders.iter().map(Vec::len).sum::<usize>()),
    );
    stats.insert("edges".into(), Value::Object(edges));
    stats
}

/// Anomaly counts by kind and the union of the models they rule out.
fn add_anomaly_stats(found: &[Anomaly], stats: &mut Map<String, Value>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut models: Vec<String> = Vec::new();
    for a in found {
        *counts.entry(a.kind.as_str()).or_insert(0) += 1;
        if counts[a.kind.as_str()] == 1 {
            for m in explain::models_ruled_out(&a.kind) {
                if !models.contains(&m) {
                    models.push(m);
                }
            }
        }
    }
    models.sort_by_key(|m| model_rank(m));
    stats.insert("anomalies".into(), json!(counts));
    stats.insert(stat::MODELS_RULED_OUT.into(), Value::from(models));
}

/// Orders models: the ladder, then session variants, then strong variants.
fn model_rank(m: &str) -> (usize, usize) {
    let (tier, base) = if let Some(b) = m.strip_prefix("strong-session-") {
        (1, b)
    } else if let Some(b) = m.strip_prefix("strong-") {
        (2, b)
    } else {
        (0, m)
    };
    let pos = explain::LADDER.iter().position(|l| *l == base).unwrap_or(9);
    (pos, tier)
}

/// Micro-ops of another model (rw-register's writes and register reads): list-append ignores
/// them, so it cannot vouch for the history.
fn foreign_mops(txns: &micro_op::Txns) -> usize {
    txns.mops
        .iter()
        .filter(|m| matches!(m.kind, MopKind::Write(_) | MopKind::ReadValue(_)))
        .count()
}

fn notes_for(txns: &micro_op::Txns, vo: &version_order::VersionOrders, notes: &mut Vec<String>) {
    let foreign = foreign_mops(txns);
    if foreign > 0 {
        notes.push(format!(
            "{foreign} micro-ops were not understood as list-append (register writes or reads \
             of a single value: an rw-register history? try --workload rw-register) and were \
             ignored"
        ));
    }
    if !txns.malformed.is_empty() {
        let (index, text) = &txns.malformed[0];
        notes.push(format!(
            "{} micro-ops were not understood and were ignored (first: op {index}: {text})",
            txns.malformed.len()
        ));
    }
    if vo.ambiguous_appends > 0 {
        notes.push(format!(
            "{} elements were appended to the same key by more than one transaction; \
             no dependency was inferred from them",
            vo.ambiguous_appends
        ));
    }
    if txns.times_from_index {
        notes.push(
            "the history carries no times: history order stands in for real-time order".into(),
        );
    }
}
