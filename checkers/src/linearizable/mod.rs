//! Linearizability of single registers (read/write/cas on the master), per key.
//!
//! - [`model`]: the sequential specifications (`Register`, `CasRegister`) behind a small
//!   [`model::Model`] trait, and value interning.
//! - [`key_history`]: one sub-history per key (P-compositionality) and pruning of `info` writes
//!   nobody observed.
//! - [`bitset`]: the linearized-op set with an O(1) Zobrist hash, the cache key.
//! - [`search`]: Wing & Gong / Lowe search, Porcupine-style, with info ops linearized only in
//!   chains right before the op that needs them.
//! - [`simulate`]: histories of an ideal register (optionally with a stale read), for tests and
//!   benchmarks.
//! - [`explain`]: the `nonlinearizable` anomaly: longest linearizable prefix, the op that cannot
//!   follow it and why, the concurrent ops.
//!
//! Keys are checked in parallel (rayon) under one shared wall-clock and memory budget
//! (`CheckOptions::linearizable_time_budget`, `linearizable_memory_budget`). A key whose search
//! runs out of budget is undecided: the verdict becomes `unknown` (unless another key is
//! invalid), never `true`, and a note names the undecided keys.

pub mod bitset;
pub mod explain;
pub mod key_history;
pub mod model;
pub mod search;
pub mod simulate;

use crate::history::History;
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult, Validity};
use key_history::KeyHistory;
use model::{CasRegister, Register};
use rayon::prelude::*;
use search::{Budget, Outcome};
use serde_json::{json, Map};

/// Why the checker does not apply to replica reads.
pub const REPLICA_READS: &str = "reads were served by replicas, where stale reads are expected \
    under asynchronous replication; linearizability applies to reads on the master \
    (--read-from master)";

/// How many undecided keys a note names before eliding the rest.
const UNKNOWN_KEYS_NAMED: usize = 20;

/// Checks every key's register sub-history for linearizability.
///
/// Considers client `read`/`write`/`cas` ops that carry a key, except final reads (see
/// [`key_history`] for what enters a sub-history). One `nonlinearizable` anomaly per bad key.
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    // A stored history may not say where reads went; its topology records and the nodes that
    // served the reads do.
    let inferred = crate::final_reads::reads_served_by_replicas(history).map(|replicas| !replicas);
    let from_master = opts.reads_from_master.or(inferred);
    if from_master == Some(false) {
        return CheckResult::skipped(REPLICA_READS);
    }
    let split = key_history::split_by_key(history);
    if split.keys.is_empty() {
        return CheckResult::skipped(
            "the history has no register operations (read, write or cas with a key)",
        );
    }
    let budget = Budget::new(
        opts.linearizable_time_budget,
        opts.linearizable_memory_budget,
    );
    let verdicts: Vec<KeyVerdict> = split
        .keys
        .par_iter()
        .map(|key| check_key(key, &budget))
        .collect();

    let mut anomalies: Vec<Anomaly> = Vec::new();
    let mut unknown: Vec<(String, String)> = Vec::new();
    let mut max_states = 0;
    for (key, v) in split.keys.iter().zip(verdicts) {
        max_states = max_states.max(v.states);
        match v.outcome {
            Outcome::Linearizable => {}
            Outcome::Violation { prefix } => anomalies.push(explain::anomaly(key, &prefix)),
            Outcome::Unknown { reason } => unknown.push((key.key.clone(), reason)),
        }
    }
    let mut stats = Map::new();
    stats.insert("keys".into(), json!(split.keys.len()));
    stats.insert("ops".into(), json!(split.ops));
    stats.insert(
        "keys_checked".into(),
        json!(split.keys.len() - unknown.len()),
    );
    stats.insert("keys_unknown".into(), json!(unknown.len()));
    stats.insert("keys_nonlinearizable".into(), json!(anomalies.len()));
    stats.insert("max_search_states".into(), json!(max_states));
    let pruned: usize = split.keys.iter().map(|k| k.pruned).sum();
    stats.insert("info_ops_pruned".into(), json!(pruned));
    stats.insert(
        "final_reads_ignored".into(),
        json!(split.final_reads_ignored),
    );

    let mut result = CheckResult::from_anomalies(anomalies, stats);
    if !unknown.is_empty() && result.valid == Validity::Valid {
        result.valid = Validity::Unknown;
    }
    result.notes = notes(opts, inferred.is_some(), &split.malformed, &unknown);
    result
}

struct KeyVerdict {
    outcome: Outcome,
    states: usize,
}

fn check_key(key: &KeyHistory, budget: &Budget) -> KeyVerdict {
    let values = key.values.clone();
    let report = if key.has_cas {
        search::search(&CasRegister { values }, &key.ops, budget)
    } else {
        search::search(&Register { values }, &key.ops, budget)
    };
    KeyVerdict {
        outcome: report.outcome,
        states: report.states,
    }
}

fn notes(
    opts: &CheckOptions,
    from_master_inferred: bool,
    malformed: &[u64],
    unknown: &[(String, String)],
) -> Vec<String> {
    let mut notes = Vec::new();
    if opts.reads_from_master.is_none() && !from_master_inferred {
        notes.push(
            "whether reads were served by the master is not recorded; the history was checked \
             as if they were (replica reads would make stale reads expected)"
                .to_string(),
        );
    }
    if !malformed.is_empty() {
        notes.push(format!(
            "{} cas ops were left out because their value is not [old, new] (first: op {})",
            malformed.len(),
            malformed[0]
        ));
    }
    if !unknown.is_empty() {
        let named: Vec<String> = unknown
            .iter()
            .take(UNKNOWN_KEYS_NAMED)
            .map(|(k, why)| format!("{k} ({why})"))
            .collect();
        let more = unknown.len().saturating_sub(UNKNOWN_KEYS_NAMED);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        notes.push(format!(
            "{} keys were left undecided by the search budget ({:?}, {} bytes of cache): {}{tail}",
            unknown.len(),
            opts.linearizable_time_budget,
            opts.linearizable_memory_budget,
            named.join(", ")
        ));
    }
    notes
}
