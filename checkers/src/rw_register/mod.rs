//! rw-register: Elle's checker for transactions over registers (`["w", k, v]` writes and
//! `["r", k, v]` reads), for histories of Jepsen and Elle that use them.
//!
//! Writes are assumed unique per key; nothing else is. A register does not reveal the order of
//! its past versions, so ww and rw dependencies come only from the version orders the key
//! assumptions allow ([`versions`], `--sequential-keys`, `--linearizable-keys`,
//! `--wfr-keys`; none by default, as in Elle); wr dependencies come from reads directly.
//!
//! - [`ext`]: each transaction's external reads and writes, indexed by version.
//! - [`versions`]: version orders from the assumptions; contradictory ones reported.
//! - [`anomalies`]: internal, G1a, G1b, lost-update, cyclic-versions, duplicate-writes.
//! - [`graph`]: the dependency graph and the explanation of each cycle step.
//!
//! Cycles are found and named as in txn-cycles (G0, G1c, G-single-item, G-nonadjacent-item,
//! G2-item and their -process / -realtime variants), and the verdict is Elle's under
//! `--consistency-models` ([`crate::txn_cycles::verdict`]).

pub mod anomalies;
pub mod ext;
pub mod graph;
pub mod versions;

use crate::history::History;
use crate::registry::CheckOptions;
use crate::result::CheckResult;
use crate::txn_cycles::micro_op::{self, Txns};
use crate::txn_cycles::{cycles, explain, graph as txn_graph, verdict};
use serde_json::{json, Value};

/// Checks a register-transaction history. Skipped when it has no `txn` operations.
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    check_txns(micro_op::extract(history).as_ref(), opts)
}

/// Checks transactions in compact form (read once by `redline check`).
pub fn check_txns(txns: Option<&Txns>, opts: &CheckOptions) -> CheckResult {
    let Some(txns) = txns else {
        return CheckResult::skipped("the history has no txn (rw-register) operations");
    };
    let ext = ext::index(txns);
    let inferred = versions::infer(txns, &ext, opts.key_assumptions);
    let scope = txn_graph::scope(&opts.consistency_models);
    let built = graph::build(txns, &ext, &inferred.graphs, scope);
    let mut found = anomalies::internal(txns);
    found.extend(anomalies::aborted_and_intermediate_reads(txns));
    found.extend(anomalies::lost_updates(txns));
    found.extend(anomalies::cyclic_versions(
        txns,
        &inferred.cycles,
        &ext.writers,
    ));
    found.extend(anomalies::duplicate_writes(txns, &built.duplicate_writes));
    let outcome = cycles::search_explained(
        &built.graph,
        opts.txn_scc_time_budget,
        cycles::RW_REGISTER_EXPLAINS,
    );
    found.extend(outcome.cycles.iter().map(|c| {
        explain::cycle_anomaly_with(c, txns, &|step, an, bn| {
            graph::justify(step, txns, &ext, &inferred.graphs, an, bn)
        })
    }));
    let mut undecided = verdict::Undecided::default();
    if ext.foreign > 0 {
        undecided.add(
            None,
            format!(
                "{} micro-ops were appends or list reads (a list-append history? try \
                 --workload list-append) and were ignored",
                ext.foreign
            ),
        );
    }
    undecided.malformed(txns);
    undecided.search(&outcome, txns, opts.txn_scc_time_budget);
    undecided.empty_graph(
        &built.graph,
        "no wr edge, no ww or rw edge the key assumptions allow",
    );
    let edges: usize = (0..built.graph.node_count() as u32)
        .map(|n| built.graph.edges_slice(n).len())
        .sum();
    let mut stats = serde_json::Map::new();
    stats.insert("txns".into(), Value::from(txns.txns.len()));
    stats.insert("keys".into(), Value::from(txns.key_names.len()));
    stats.insert("edges".into(), Value::from(edges));
    stats.insert("version_sources".into(), json!(inferred.sources));
    stats.insert("sccs".into(), Value::from(outcome.scc_sizes.len()));
    verdict::judge(found, undecided, &opts.consistency_models, stats)
}

#[cfg(test)]
mod tests;
