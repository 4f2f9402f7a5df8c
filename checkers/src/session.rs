//! The session checker (register workload): read-your-writes and monotonic-reads per process.
//!
//! A process is one client session: it issues one operation at a time, and a process whose
//! operation ended `info` never invokes again, so its history is a sequence. Per key:
//!
//! - *read-your-writes*: a process wrote W, saw it acknowledged (`ok`), and a later read
//!   returned a version older than W: the value of a write A with A ≺ W, or nil (the initial
//!   version, older than every write).
//! - *monotonic-reads*: a process read the value of write B, and a later read returned a version
//!   older than B: the value of a write A with A ≺ B, or nil after a non-nil read.
//!
//! "Older" is the real-time version order of [`crate::register_versions`] and nothing else:
//! when A and the newer write overlap, either may have taken effect last, so no violation is
//! claimed. Values are not compared: redline writes increasing values, but a foreign history need
//! not. An earlier read of an `info` write's value proves that write happened, and it was invoked
//! at its start time, so it can be the newer version B; only `ok` writes can be the older A.
//!
//! Final reads (after healing) are excluded: they are one read per node made after convergence,
//! and what they return is the lost-writes and divergence checkers' evidence.

use crate::history::{Function, History, Operation, Process};
use crate::names::{kind, stat};
use crate::register_versions::{ms, Attribution, RegisterVersions, RegisterWrite, Version};
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult};
use serde_json::{json, Map};
use std::collections::{BTreeSet, HashMap};

/// At most this many anomalies of each kind are listed; the stats count all of them.
pub const MAX_ANOMALIES: usize = 1_000;

/// What one process knows about one key so far.
#[derive(Default)]
struct SessionState<'a> {
    /// Of the process's acknowledged writes, the one invoked last: every version older than
    /// any of them is older than this one (A ≺ W iff A.end < W.start, largest W.start wins).
    own_write: Option<&'a RegisterWrite>,
    /// Of the non-nil versions the process has read, the one whose write was invoked last, and
    /// the read that returned it.
    seen: Option<(&'a RegisterWrite, Operation<'a>)>,
}

/// Checks every process's reads against its own acknowledged writes and its earlier reads.
pub fn check(history: &History, _opts: &CheckOptions) -> CheckResult {
    let versions = RegisterVersions::from_history(history);
    let mut sessions: HashMap<(Process, &str), SessionState<'_>> = HashMap::new();
    let mut processes = BTreeSet::new();
    let mut reads = 0u64;
    let mut collections = crate::stale_reads::Collections::default();
    let mut ryw = Vec::new();
    let mut monotonic = Vec::new();
    for op in history.operations() {
        let key = op.invoke.key.as_deref().unwrap_or_default();
        let Some(kv) = versions.key(key) else {
            continue; // never written: every read is nil, the only version
        };
        let state = sessions.entry((op.invoke.process, key)).or_default();
        match op.invoke.f {
            Function::Write | Function::Cas => {
                processes.insert(op.invoke.process);
                let Some(w) = kv.write_by_invoke(op.invoke.index) else {
                    continue;
                };
                if w.end.is_some() && state.own_write.is_none_or(|o| w.start > o.start) {
                    state.own_write = Some(w);
                }
            }
            Function::Read => {
                let Some(done) = op.completion else { continue };
                if done.op_type != crate::OpType::Ok || op.invoke.is_final || done.is_final {
                    continue;
                }
                if collections.seen(done) {
                    continue;
                }
                processes.insert(op.invoke.process);
                reads += 1;
                // A value no write could have produced is the stale-reads checker's to report.
                let Attribution::Versions(candidates) = kv.attribute(&done.value) else {
                    continue;
                };
                if let Some(w) = state.own_write.filter(|w| all_older(&candidates, w)) {
                    ryw.push(read_your_writes(op, key, w, &candidates));
                }
                if let Some((b, earlier)) = state.seen.filter(|(b, _)| all_older(&candidates, b)) {
                    monotonic.push(monotonic_reads(op, key, b, earlier, &candidates));
                }
                remember(state, op, &candidates);
            }
            _ => {}
        }
    }
    if reads == 0 {
        return CheckResult::skipped(if collections.any() {
            collections.note()
        } else {
            "no completed reads of written register keys".to_string()
        });
    }
    let mut stats = Map::new();
    stats.insert(stat::READS.into(), json!(reads));
    stats.insert("read_your_writes".into(), json!(ryw.len()));
    stats.insert("monotonic_reads".into(), json!(monotonic.len()));
    stats.insert("processes".into(), json!(processes.len()));
    let mut notes = Vec::new();
    for (kind, list) in [
        (kind::READ_YOUR_WRITES, &ryw),
        (kind::MONOTONIC_READS, &monotonic),
    ] {
        if list.len() > MAX_ANOMALIES {
            notes.push(format!(
                "{} {kind} violations found; the first {MAX_ANOMALIES} are listed",
                list.len()
            ));
        }
    }
    ryw.append(&mut monotonic);
    let mut result = CheckResult::from_anomalies(ryw, stats);
    result.cap_kind(kind::READ_YOUR_WRITES, MAX_ANOMALIES);
    result.cap_kind(kind::MONOTONIC_READS, MAX_ANOMALIES);
    result.notes = notes;
    collections.downgrade(&mut result);
    result
}

/// Whether every version the read may have returned is older than `newer` (nil is older than
/// every write). With unique values there is one candidate; a foreign history that writes a
/// value twice gets the benefit of the doubt.
fn all_older(candidates: &[Version<'_>], newer: &RegisterWrite) -> bool {
    candidates.iter().all(|v| match v {
        Version::Initial => true,
        Version::Write(a) => a.precedes(newer),
    })
}

/// Records the version a read returned if it is the newest-invoked one the process has seen.
/// With several candidate writes the earliest-invoked one is kept, which claims the least.
fn remember<'a>(state: &mut SessionState<'a>, read: Operation<'a>, candidates: &[Version<'a>]) {
    let mut least: Option<&'a RegisterWrite> = None;
    for v in candidates {
        match v {
            Version::Initial => return,
            Version::Write(w) => {
                if least.is_none_or(|l| w.start < l.start) {
                    least = Some(w);
                }
            }
        }
    }
    if let Some(w) = least {
        if state.seen.is_none_or(|(b, _)| w.start > b.start) {
            state.seen = Some((w, read));
        }
    }
}

/// "returned 4, the value of op 6 (...)" or "returned nil (key absent), the initial version".
fn describe_returned(read: Operation<'_>, candidates: &[Version<'_>]) -> String {
    let value = &read.last().value;
    let writes: Vec<String> = candidates
        .iter()
        .filter_map(|v| match v {
            Version::Initial => None,
            Version::Write(a) => Some(a.describe()),
        })
        .collect();
    if writes.is_empty() {
        "returned nil (key absent), the initial version, which is older than every write"
            .to_string()
    } else {
        format!("returned {value}, the value of {}", writes.join(" or "))
    }
}

/// Why the returned version is older than `newer`: nil always is; a write is when it completed
/// before `newer` was invoked.
fn why_older(candidates: &[Version<'_>], newer: &RegisterWrite) -> String {
    let newer_start = ms(newer.start);
    if candidates.iter().all(|v| matches!(v, Version::Initial)) {
        return format!(
            "Nil precedes every write, op {} included",
            newer.invoke_index
        );
    }
    let ends: Vec<String> = candidates
        .iter()
        .filter_map(|v| match v {
            Version::Write(a) => a
                .end
                .map(|e| format!("op {} completed at {}", a.invoke_index, ms(e))),
            Version::Initial => None,
        })
        .collect();
    format!(
        "{}, before op {} was invoked at {newer_start}",
        ends.join(" and "),
        newer.invoke_index
    )
}

/// "read op 14 (on n2, invoked 3.000 ms, ok 3.500 ms)".
fn describe_read(read: Operation<'_>) -> String {
    let done = read.last();
    format!(
        "read op {} (on {}, invoked {}, ok {})",
        read.invoke.index,
        done.node.as_deref().unwrap_or("an unrecorded node"),
        ms(read.start()),
        ms(done.time)
    )
}

/// Witness indices: the proving ops first, then the writes the explanation cites.
fn witness(first: Vec<u64>, read: Operation<'_>, candidates: &[Version<'_>]) -> Vec<u64> {
    let mut ops = first;
    ops.extend(read.indices());
    for v in candidates {
        if let Version::Write(a) = v {
            ops.extend(a.indices());
        }
    }
    let mut seen = BTreeSet::new();
    ops.retain(|i| seen.insert(*i));
    ops
}

fn read_your_writes(
    read: Operation<'_>,
    key: &str,
    own: &RegisterWrite,
    candidates: &[Version<'_>],
) -> Anomaly {
    let explanation = format!(
        "Process {} wrote {} to key {key} in {}, and saw it acknowledged. Its later {} {}. \
         {}, so it is older than the process's own acknowledged write: the process did not \
         read its write.",
        read.invoke.process,
        own.value,
        own.describe(),
        describe_read(read),
        describe_returned(read, candidates),
        why_older(candidates, own)
    );
    Anomaly::new(
        kind::READ_YOUR_WRITES,
        witness(own.indices(), read, candidates),
        explanation,
    )
    .with_key(key)
    .with_details(json!({
        "process": read.invoke.process.to_string(),
        "write": own.invoke_index,
        "read": read.invoke.index,
        "value": read.last().value,
        "written": own.value,
    }))
}

fn monotonic_reads(
    read: Operation<'_>,
    key: &str,
    newer: &RegisterWrite,
    earlier: Operation<'_>,
    candidates: &[Version<'_>],
) -> Anomaly {
    let explanation = format!(
        "Process {}'s {} of key {key} returned {}, the value of {}. Its later {} {}. {}, \
         so it is older than the one the process had already read: the key went back in time \
         for this process.",
        read.invoke.process,
        describe_read(earlier),
        newer.value,
        newer.describe(),
        describe_read(read),
        describe_returned(read, candidates),
        why_older(candidates, newer)
    );
    let mut first = earlier.indices();
    first.extend(newer.indices());
    Anomaly::new(
        kind::MONOTONIC_READS,
        witness(first, read, candidates),
        explanation,
    )
    .with_key(key)
    .with_details(json!({
        "process": read.invoke.process.to_string(),
        "earlier_read": earlier.invoke.index,
        "read": read.invoke.index,
        "value": read.last().value,
        "earlier_value": newer.value,
    }))
}

#[cfg(test)]
mod tests;
