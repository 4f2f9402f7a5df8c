//! Elle's verdict (`elle.txn/result-map`), shared by txn-cycles and rw-register: which of the
//! anomalies found make the history invalid under `--consistency-models`, which make it only
//! undecided, and what they rule out.
//!
//! - An anomaly is *prohibited* when one of the requested models (or a model they imply)
//!   proscribes it, directly or through an anomaly it implies ([`consistency_model`]). Any
//!   prohibited anomaly makes the verdict `false`.
//! - Some findings only make a verdict impossible (`unknown`): duplicate appends, an empty
//!   transaction graph (no dependency between any two transactions: nothing was tested), a
//!   cycle search that ran out of time, micro-ops the checker could not read.
//! - Anomalies the requested models allow are not listed (as in Elle), but counted in
//!   `unreported_anomalies`; like every anomaly found they count in `not` / `also-not`, the
//!   weakest models the history rules out and the stronger ones.

use super::cycles::SearchOutcome;
use super::graph::DepGraph;
use super::micro_op::Txns;
use crate::consistency_model;
use crate::names::stat;
use crate::result::{Anomaly, CheckResult, Validity};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Anomaly kinds that leave a verdict undecided rather than false (Elle's `:unknown`).
pub const UNDECIDING_KINDS: &[&str] = &["duplicate-appends", "duplicate-writes"];

/// Reasons a verdict cannot be `true`, with the anomaly-type name Elle gives the ones it names
/// (`empty-transaction-graph`, `cycle-search-timeout`).
#[derive(Debug, Default)]
pub struct Undecided {
    /// (Elle's type name, if any; the note for the reader).
    pub reasons: Vec<(Option<&'static str>, String)>,
}

impl Undecided {
    pub fn add(&mut self, elle_type: Option<&'static str>, note: String) {
        self.reasons.push((elle_type, note));
    }

    /// SCCs whose cycle search ran out of time before finding any cycle, and an SCC
    /// computation that could not run.
    pub fn search(&mut self, outcome: &SearchOutcome, txns: &Txns, budget: Duration) {
        for (scc, size, member) in &outcome.exhausted {
            self.add(
                Some("cycle-search-timeout"),
                format!(
                    "cycle search budget ({budget:?}) ran out in SCC #{scc} ({size} \
                     transactions, including op {}) before any cycle was found",
                    txns.txns[*member as usize].index
                ),
            );
        }
        if outcome.scc_failed {
            self.add(
                None,
                "the SCC computation could not run (no thread for its stack): cycles unknown"
                    .into(),
            );
        }
    }

    /// Micro-ops that could not be read at all.
    pub fn malformed(&mut self, txns: &Txns) {
        if let Some((index, text)) = txns.malformed.first() {
            self.add(
                None,
                format!(
                    "{} micro-ops were not understood and were ignored (first: op {index}: \
                     {text})",
                    txns.malformed.len()
                ),
            );
        }
    }

    /// A graph without a single edge: no transaction depends on another (Elle's empty
    /// transaction graph). `edges` names the kinds of edge the checker infers.
    pub fn empty_graph(&mut self, g: &DepGraph, edges: &str) {
        if (0..g.node_count() as u32).all(|n| g.edges_slice(n).is_empty()) {
            self.add(
                Some("empty-transaction-graph"),
                format!(
                    "no transaction depends on another ({edges}, nor a process or real-time \
                     one the requested models use): nothing was tested"
                ),
            );
        }
    }
}

/// Judges `found` under `models`, adding the verdict statistics to `stats`.
pub fn judge(
    found: Vec<Anomaly>,
    undecided: Undecided,
    models: &[String],
    mut stats: Map<String, Value>,
) -> CheckResult {
    let prohibited = consistency_model::anomalies_prohibited_by(models);
    let mut all_types: Vec<&str> = found.iter().map(|a| a.kind.as_str()).collect();
    all_types.extend(undecided.reasons.iter().filter_map(|(t, _)| *t));
    let (not, also_not) = consistency_model::boundary(&all_types);
    let mut unreported: BTreeMap<String, usize> = BTreeMap::new();
    let mut listed = Vec::new();
    for a in found {
        let kind = a.kind.as_str();
        if prohibited.contains(kind) || UNDECIDING_KINDS.contains(&kind) {
            listed.push(a);
        } else {
            *unreported.entry(a.kind).or_default() += 1;
        }
    }
    let bad = listed.iter().any(|a| prohibited.contains(a.kind.as_str()));
    let deciding_blocked = listed
        .iter()
        .any(|a| UNDECIDING_KINDS.contains(&a.kind.as_str()))
        || !undecided.reasons.is_empty();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &listed {
        *counts.entry(a.kind.as_str()).or_default() += 1;
    }
    let mut types: Vec<&str> = counts.keys().copied().collect();
    types.extend(undecided.reasons.iter().filter_map(|(t, _)| *t));
    types.sort_unstable();
    types.dedup();
    stats.insert("anomalies".into(), json!(counts));
    stats.insert("anomaly_types".into(), json!(types));
    stats.insert("consistency_models".into(), json!(models));
    stats.insert("not".into(), json!(not));
    stats.insert("also_not".into(), json!(also_not));
    let ruled_out: Vec<&String> = not.iter().chain(also_not.iter()).collect();
    stats.insert(stat::MODELS_RULED_OUT.into(), json!(ruled_out));
    let mut notes: Vec<String> = undecided.reasons.into_iter().map(|(_, n)| n).collect();
    if !unreported.is_empty() {
        stats.insert("unreported_anomalies".into(), json!(unreported));
        notes.push(format!(
            "anomalies the requested consistency models ({}) allow were found and are not \
             listed: {}",
            models.join(", "),
            unreported
                .iter()
                .map(|(k, n)| format!("{k} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut result = CheckResult::from_anomalies(listed, stats);
    result.valid = if bad {
        Validity::Invalid
    } else if deciding_blocked {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    result.notes = notes;
    result
}
