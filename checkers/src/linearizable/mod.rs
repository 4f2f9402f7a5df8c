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

#[cfg(test)]
mod tests {
    //! The shapes of Jepsen's etcd register logs (Porcupine's test data, converted by
    //! scripts/porcupine-etcd-to-jsonl.py): no key, no clock, failed cas = mismatch, and timed-out
    //! ops closed as `info` only at the end of the file, long after later ops of other processes.
    use super::*;
    use crate::history::jsonl::read_str;

    fn verdict(text: &str) -> Validity {
        let h = read_str(text).expect("well-formed JSONL").history;
        let opts = CheckOptions {
            reads_from_master: Some(true),
            ..Default::default()
        };
        check(&h, &opts).valid
    }

    /// Process 1's cas 1->2 timed out; its `info` is the last record, after process 2 read 2.
    /// The cas may have taken effect at any point after its invocation: valid.
    const INFO_CAS_AT_THE_END: &str = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"cas","value":[1,2]}
{"process":2,"type":"invoke","f":"read","value":null}
{"process":2,"type":"ok","f":"read","value":2}
{"process":3,"type":"invoke","f":"read","value":null}
{"process":3,"type":"ok","f":"read","value":2}
{"process":1,"type":"info","f":"cas","value":[1,2],"error":"pending at the end of the log"}
"#;

    #[test]
    fn an_info_cas_closed_at_the_end_of_the_log_may_explain_later_reads() {
        assert_eq!(verdict(INFO_CAS_AT_THE_END), Validity::Valid);
    }

    #[test]
    fn but_not_a_read_of_a_value_the_info_cas_never_wrote() {
        // Near-miss of the above: process 3 reads 3, which nothing wrote.
        let bad = INFO_CAS_AT_THE_END.replace(
            r#"{"process":3,"type":"ok","f":"read","value":2}"#,
            r#"{"process":3,"type":"ok","f":"read","value":3}"#,
        );
        assert_eq!(verdict(&bad), Validity::Invalid);
    }

    /// A failed cas observed the register: cas 1->3 failing while it surely holds 1 is illegal
    /// (Porcupine's etcd model), unless a concurrent write explains the mismatch.
    const MISMATCH_WHILE_HOLDING_OLD: &str = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"cas","value":[1,3]}
{"process":1,"type":"fail","f":"cas","value":[1,3],"error":"mismatch"}
{"process":2,"type":"invoke","f":"read","value":null}
{"process":2,"type":"ok","f":"read","value":1}
"#;

    #[test]
    fn a_mismatch_cas_while_the_register_holds_its_old_value_is_flagged() {
        assert_eq!(verdict(MISMATCH_WHILE_HOLDING_OLD), Validity::Invalid);
    }

    #[test]
    fn a_mismatch_cas_concurrent_with_a_timed_out_write_passes() {
        // Near-miss: process 3's write 2 timed out (its info is the last record) and is
        // concurrent with the cas, which may have seen 2; process 4 then writes 1 again, so the
        // later read of 1 is fine. Order: write 1, write 2, cas (mismatch), write 1, read 1.
        let good = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":3,"type":"invoke","f":"write","value":2}
{"process":1,"type":"invoke","f":"cas","value":[1,3]}
{"process":1,"type":"fail","f":"cas","value":[1,3],"error":"mismatch"}
{"process":4,"type":"invoke","f":"write","value":1}
{"process":4,"type":"ok","f":"write","value":1}
{"process":2,"type":"invoke","f":"read","value":null}
{"process":2,"type":"ok","f":"read","value":1}
{"process":3,"type":"info","f":"write","value":2,"error":"pending at the end of the log"}
"#;
        assert_eq!(verdict(good), Validity::Valid);
    }
}
