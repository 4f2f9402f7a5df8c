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
//! - [`verdict`]: Elle's verdict under `--consistency-models` (shared with rw-register).
//!
//! Which transactions count: `ok` committed; `fail` did not (its appends are only evidence of
//! G1a and dirty updates); `info` may have committed, so its appends are writers when observed
//! and it takes part in the graph (Elle's "possible" history).
//!
//! An `ok` read of `nil` read the empty list (Jepsen's and Elle's spelling), with the rw edges
//! that implies; an `info` transaction's `nil` read is unknown.
//!
//! Verdict ([`verdict`], Elle's): `false` when an anomaly the requested consistency models
//! prohibit is found (`CheckOptions::consistency_models`, default strict-serializable);
//! `unknown` when none is but the cycle search budget (`CheckOptions::txn_scc_time_budget`, per
//! SCC) ran out before any cycle of an SCC was found, some micro-ops were not appends or list
//! reads, an element was appended twice, or no transaction depends on another (Elle's empty
//! transaction graph); never `true` with anything left undecided.

pub mod anomalies;
pub mod cycles;
pub mod explain;
pub mod graph;
pub mod micro_op;
pub mod stream;
pub mod verdict;
pub mod version_order;

use crate::history::{History, OpType};
use crate::registry::CheckOptions;
use crate::result::CheckResult;
use graph::Label;
use micro_op::MopKind;
use serde_json::{json, Map, Value};

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
            a.extend(anomalies::future_reads(&txns));
            a.extend(anomalies::dirty_updates(&txns, &vo));
            a.extend(anomalies::lost_updates(&txns));
            a.extend(anomalies::duplicate_appends(&txns, &vo));
            a
        },
        || graph::build(&txns, &vo, graph::scope(&opts.consistency_models)),
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
    let mut undecided = verdict::Undecided::default();
    undecided_reasons(&txns, &g, &outcome, opts, &mut undecided);
    let mut result = verdict::judge(found, undecided, &opts.consistency_models, stats);
    result.notes.extend(notes_for(&txns));
    result
}

/// Why the verdict cannot be `true`, whatever else is found (Elle's unknown types and the
/// micro-ops this checker could not read).
fn undecided_reasons(
    txns: &micro_op::Txns,
    g: &graph::DepGraph,
    outcome: &cycles::SearchOutcome,
    opts: &CheckOptions,
    undecided: &mut verdict::Undecided,
) {
    undecided.search(outcome, txns, opts.txn_scc_time_budget);
    // Micro-ops we could not read (say, rw-register writes) hide dependencies.
    let foreign = foreign_mops(txns);
    if foreign > 0 {
        undecided.add(
            None,
            format!(
                "{foreign} micro-ops were not understood as list-append (register writes or \
                 reads of a single value: an rw-register history? try --workload rw-register) \
                 and were ignored"
            ),
        );
    }
    undecided.malformed(txns);
    undecided.empty_graph(g, "no ww, wr or rw edge");
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

/// Micro-ops of another model (rw-register's writes and register reads): list-append ignores
/// them, so it cannot vouch for the history.
fn foreign_mops(txns: &micro_op::Txns) -> usize {
    txns.mops
        .iter()
        .filter(|m| matches!(m.kind, MopKind::Write(_) | MopKind::ReadValue(_)))
        .count()
}

/// Remarks that do not change the verdict.
fn notes_for(txns: &micro_op::Txns) -> Vec<String> {
    let mut notes = Vec::new();
    if txns.times_from_index {
        notes.push(
            "the history carries no times: history order stands in for real-time order".into(),
        );
    }
    notes
}
