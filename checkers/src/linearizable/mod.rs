//! Linearizability of single registers (read/write/cas on the master), per key.
//!
//! - [`model`]: the sequential specifications (`Register`, `CasRegister`) behind a small
//!   [`model::Model`] trait, and value interning.
//! - [`key_history`]: one sub-history per key (P-compositionality) and pruning of `info` writes
//!   nobody observed.
//! - [`events`]: a key's call and return events in time order, the search's linked list, and
//!   return positions.
//! - [`relevance`]: until which position an `info` op can still matter to the search.
//! - [`frontier`]: the bounded form of a search configuration the cache keeps, and why it is
//!   exact: memory follows what is open, not the length of the key's history.
//! - [`cache`]: the visited configurations, in flat arenas.
//! - [`bitset`]: a bitset that copies out windows of its bits.
//! - [`budget`]: the deadline and memory shared by every key's search.
//! - [`search`]: Wing & Gong / Lowe search, Porcupine-style: the search path and backtracking.
//! - [`steps`]: the steps a configuration offers (info ops only in chains right before the op
//!   that needs them) and the order they are tried in.
//! - [`window`]: proving a key not linearizable from the ops just before the op the search is
//!   stuck at, checked from every start state, instead of exhausting the whole history.
//! - [`simulate`]: histories of an ideal register (optionally with a stale read), for tests and
//!   benchmarks.
//! - [`explain`]: the `nonlinearizable` anomaly: longest linearizable prefix, the op that cannot
//!   follow it and why, the concurrent ops.
//!
//! Keys are checked in parallel (as many at once as rayon has threads, the calling thread
//! being one of them: see [`check_keys`]) under one shared wall-clock and memory budget
//! (`CheckOptions::linearizable_time_budget`, `linearizable_memory_budget`). A key whose search
//! runs out of budget is undecided: the verdict becomes `unknown` (unless another key is
//! invalid), never `true`, and a note names the undecided keys.

pub mod bitset;
pub mod budget;
pub mod cache;
pub mod events;
pub mod explain;
pub mod frontier;
pub mod key_history;
pub mod model;
pub mod relevance;
pub mod search;
pub mod simulate;
pub mod steps;
pub mod window;

use crate::history::History;
use crate::names::stat;
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult, Validity};
use key_history::KeyHistory;
use model::{CasRegister, Register};
use search::{Budget, Outcome, Report};
use serde_json::{json, Map, Value as Json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Why the checker does not apply to replica reads.
pub const REPLICA_READS: &str = "reads were served by replicas, where stale reads are expected \
    under asynchronous replication; linearizability applies to reads on the master \
    (--read-from master)";

/// How many undecided keys a note names before eliding the rest.
const UNKNOWN_KEYS_NAMED: usize = 20;
/// How many keys get their own entry in the `per_key` statistics (undecided and
/// non-linearizable keys first, then the largest).
const KEYS_DETAILED: usize = 100;

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
    let reports = check_keys(&split.keys, &budget);

    let mut anomalies: Vec<Anomaly> = Vec::new();
    let mut unknown: Vec<(String, String)> = Vec::new();
    for (key, r) in split.keys.iter().zip(&reports) {
        match &r.outcome {
            Outcome::Linearizable => {}
            Outcome::Violation => anomalies.push(explain::anomaly(key, &r.prefix, r.window)),
            Outcome::Unknown { reason } => unknown.push((key.key.clone(), reason.clone())),
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
    stats.insert(stat::KEYS_NONLINEARIZABLE.into(), json!(anomalies.len()));
    let max_states = reports.iter().map(|r| r.states).max().unwrap_or(0);
    stats.insert("max_search_states".into(), json!(max_states));
    let max_bytes = reports.iter().map(|r| r.peak_bytes).max().unwrap_or(0);
    stats.insert("max_search_bytes".into(), json!(max_bytes));
    let pruned: usize = split.keys.iter().map(|k| k.pruned).sum();
    stats.insert("info_ops_pruned".into(), json!(pruned));
    stats.insert(
        "final_reads_ignored".into(),
        json!(split.final_reads_ignored),
    );
    stats.insert("per_key".into(), per_key(&split.keys, &reports));

    let mut result = CheckResult::from_anomalies(anomalies, stats);
    if !unknown.is_empty() && result.valid == Validity::Valid {
        result.valid = Validity::Unknown;
    }
    result.notes = notes(opts, inferred.is_some(), &split.malformed, &unknown);
    result
}

/// Checks every key, largest first, on the calling thread and `rayon::current_num_threads() - 1`
/// helpers, which take the next key when they are done with one.
///
/// The bulk of each search (its event list and stacks, [`search::Prepared`]) is allocated here,
/// on the calling thread, which also takes keys itself: with glibc each thread allocates from
/// its own arena, and only the calling thread's reuses the memory the earlier checkers of a
/// `redline check` freed (1,000,000 ops on 4 keys, checked on pool threads, raised its peak by
/// about 50 MB).
fn check_keys(keys: &[KeyHistory], budget: &Budget) -> Vec<Report> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(keys[i].ops.len()));
    let prepared: Vec<Mutex<Option<search::Prepared>>> = keys
        .iter()
        .map(|k| Mutex::new(Some(search::Prepared::new(&k.ops))))
        .collect();
    let next = AtomicUsize::new(0);
    let reports: Vec<Mutex<Option<Report>>> = keys.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            let ready = prepared[i].lock().ok().and_then(|mut p| p.take());
            let ready = ready.unwrap_or_else(|| search::Prepared::new(&keys[i].ops));
            let report = check_key(&keys[i], ready, budget);
            if let Ok(mut slot) = reports[i].lock() {
                *slot = Some(report);
            }
        }
    };
    let helpers = rayon::current_num_threads()
        .min(keys.len())
        .saturating_sub(1);
    rayon::in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| work());
        }
        work();
    });
    reports
        .into_iter()
        .map(|slot| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| Report {
                outcome: Outcome::Unknown {
                    reason: "its search did not finish".to_string(),
                },
                states: 0,
                prefix: Vec::new(),
                prefix_ops: 0,
                peak_bytes: 0,
                window: None,
            })
        })
        .collect()
}

fn check_key(key: &KeyHistory, prepared: search::Prepared, budget: &Budget) -> Report {
    let values = &key.values;
    if key.has_cas {
        search::search_prepared(&CasRegister { values }, &key.ops, prepared, budget)
    } else {
        search::search_prepared(&Register { values }, &key.ops, prepared, budget)
    }
}

/// How far the search got on each key and what it held: `longest_prefix_ops` (determinate ops
/// in the longest linearizable prefix found), `decided_until_ms` (every op that completed
/// before this time is in that prefix; the last completion when the key is linearizable; in a
/// history without times `decided_until_record`, a record position), `search_bytes` (peak bytes of search state), `states` (configurations cached).
fn per_key(keys: &[KeyHistory], reports: &[Report]) -> Json {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| {
        let decided = matches!(reports[i].outcome, Outcome::Linearizable);
        (decided, std::cmp::Reverse(keys[i].ops.len()), i)
    });
    let mut out = Map::new();
    for &i in order.iter().take(KEYS_DETAILED) {
        let (key, r) = (&keys[i], &reports[i]);
        let verdict = match r.outcome {
            Outcome::Linearizable => "valid",
            Outcome::Violation => "invalid",
            Outcome::Unknown { .. } => "unknown",
        };
        let mut in_prefix = vec![false; key.ops.len()];
        for s in &r.prefix {
            in_prefix[s.op as usize] = true;
        }
        let until = (0..key.ops.len())
            .filter(|&i| !in_prefix[i])
            .filter_map(|i| key.ops[i].end)
            .min()
            .or_else(|| key.ops.iter().filter_map(|o| o.end).max());
        let mut entry = json!({
            "ops": key.ops.len(),
            "verdict": verdict,
            "longest_prefix_ops": r.prefix_ops,
            "search_bytes": r.peak_bytes,
            "states": r.states,
        });
        // A history without times has record positions for times (`KeyHistory::clocked`).
        let (name, until) = if key.clocked {
            ("decided_until_ms", until.map(|ns| json!(ns as f64 / 1e6)))
        } else {
            ("decided_until_record", until.map(|p| json!(p)))
        };
        entry[name] = until.unwrap_or(Json::Null);
        out.insert(key.key.clone(), entry);
    }
    Json::Object(out)
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

    #[test]
    fn a_keyless_clockless_violation_names_the_register_and_record_positions() {
        // Write 1 completes, then a read returns nil: no op deletes the key.
        let bad = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":null}
"#;
        let h = read_str(bad).expect("well-formed JSONL").history;
        let opts = CheckOptions {
            reads_from_master: Some(true),
            ..Default::default()
        };
        let result = check(&h, &opts);
        let text = &result.anomalies[0].explanation;
        assert!(
            text.starts_with("the register: read of nil at op 2"),
            "{text}"
        );
        assert!(
            text.contains("(invoked record 2, completed record 3)"),
            "{text}"
        );
        assert!(!text.contains(" ms"), "{text}");
        let key = &result.stats["per_key"][""];
        assert_eq!(key["decided_until_record"], 3, "{key}");
        assert!(key.get("decided_until_ms").is_none(), "{key}");
    }
}
