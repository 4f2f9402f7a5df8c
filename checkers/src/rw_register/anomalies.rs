//! Register anomalies that need no cycle (Elle's rw-register rules):
//!
//! - internal: an `ok` transaction read a value other than its own last write or read of the
//!   key (one per transaction, at its first such read);
//! - G1a: an `ok` transaction read a value that a `fail`ed transaction wrote;
//! - G1b: an `ok` transaction read a value another transaction overwrote within itself (an
//!   intermediate write);
//! - lost-update: two or more `ok` transactions read the same version of a key before writing
//!   it (each wrote without seeing the others' writes);
//! - cyclic-versions: the assumed version orders of a key contradict each other;
//! - duplicate-writes: one value written to a key by more than one `ok` transaction: which
//!   write a read saw is ambiguous, so the history can be judged `unknown` at best.

use super::ext::Version;
use super::versions::CyclicVersions;
use crate::history::OpType;
use crate::result::Anomaly;
use crate::txn_cycles::anomalies::make;
use crate::txn_cycles::micro_op::{Elem, FastMap, KeyId, MopKind, Txns};
use serde_json::json;

fn show(txns: &Txns, v: Version) -> String {
    v.map_or("nil".to_string(), |e| txns.elem_name(e))
}

/// The version a read micro-op returned, if it is a register read.
fn read_version(kind: MopKind) -> Option<Version> {
    match kind {
        MopKind::ReadValue(e) => Some(Some(e)),
        MopKind::Read { len: 0, .. } => Some(None),
        _ => None,
    }
}

/// `internal` anomalies.
pub fn internal(txns: &Txns) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        let mut state: Vec<(KeyId, Version)> = Vec::new();
        for (i, mop) in txns.mops_of(t).iter().enumerate() {
            let slot = state.iter().position(|(k, _)| *k == mop.key);
            let seen = match (mop.kind, read_version(mop.kind)) {
                (MopKind::Write(e), _) => Some(e),
                (_, Some(v)) => {
                    if let Some(expected) = slot.map(|s| state[s].1).filter(|&x| x != v) {
                        let key = txns.key_name(mop.key);
                        let text = format!(
                            "op {} read key {key} = {} in micro-op {i}, but its own earlier \
                             micro-ops left the key at {}",
                            txn.index,
                            show(txns, v),
                            show(txns, expected)
                        );
                        out.push(make(
                            "internal",
                            vec![txn.index],
                            key,
                            text,
                            json!({"mop": i, "expected": show(txns, expected)}),
                        ));
                        break;
                    }
                    v
                }
                _ => continue,
            };
            match slot {
                Some(s) => state[s].1 = seen,
                None => state.push((mop.key, seen)),
            }
        }
    }
    out
}

/// G1a and G1b: `ok` reads of failed or intermediate writes.
pub fn aborted_and_intermediate_reads(txns: &Txns) -> Vec<Anomaly> {
    let mut failed: FastMap<(KeyId, Elem), u32> = FastMap::default();
    let mut intermediate: FastMap<(KeyId, Elem), u32> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        let mops = txns.mops_of(t);
        for (i, mop) in mops.iter().enumerate() {
            let MopKind::Write(e) = mop.kind else {
                continue;
            };
            if txn.outcome == OpType::Fail {
                failed.insert((mop.key, e), t as u32);
            }
            let overwritten = mops[i + 1..]
                .iter()
                .any(|m| m.key == mop.key && matches!(m.kind, MopKind::Write(_)));
            if overwritten {
                intermediate.insert((mop.key, e), t as u32);
            }
        }
    }
    let mut out = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        for mop in txns.mops_of(t) {
            let MopKind::ReadValue(e) = mop.kind else {
                continue;
            };
            let read = Read {
                txns,
                reader: txn.index,
                key: mop.key,
                value: e,
            };
            if let Some(&w) = failed.get(&(mop.key, e)) {
                out.push(read.anomaly(
                    "G1a",
                    w,
                    "wrote in a transaction that failed (did not commit)",
                ));
            }
            match intermediate.get(&(mop.key, e)) {
                Some(&w) if w as usize != t => out.push(read.anomaly(
                    "G1b",
                    w,
                    "wrote and then overwrote in the same transaction: the read observed an \
                     intermediate state",
                )),
                _ => {}
            }
        }
    }
    out
}

/// An `ok` read of a value some other transaction should never have shown.
struct Read<'a> {
    txns: &'a Txns,
    reader: u64,
    key: KeyId,
    value: Elem,
}

impl Read<'_> {
    /// The anomaly: op `reader` read the value, which transaction `writer` `did`.
    fn anomaly(&self, kind: &str, writer: u32, did: &str) -> Anomaly {
        let writer = self.txns.txns[writer as usize].index;
        let key = self.txns.key_name(self.key);
        let value = self.txns.elem_name(self.value);
        let text = format!(
            "op {} read key {key} = {value}, which op {writer} {did}",
            self.reader
        );
        let details = json!({"value": value, "writer": writer});
        make(kind, vec![writer, self.reader], key, text, details)
    }
}

/// `lost-update`: `ok` transactions that read one version of a key and then wrote it.
pub fn lost_updates(txns: &Txns) -> Vec<Anomaly> {
    let mut groups: FastMap<(KeyId, Version), Vec<u32>> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        let mut read: Vec<(KeyId, Version)> = Vec::new();
        let mut written: Vec<KeyId> = Vec::new();
        for mop in txns.mops_of(t) {
            if let Some(v) = read_version(mop.kind) {
                if !read.iter().any(|(k, _)| *k == mop.key) && !written.contains(&mop.key) {
                    read.push((mop.key, v));
                }
            } else if let MopKind::Write(_) = mop.kind {
                if !written.contains(&mop.key) {
                    written.push(mop.key);
                    if let Some(&(_, v)) = read.iter().find(|(k, _)| *k == mop.key) {
                        groups.entry((mop.key, v)).or_default().push(t as u32);
                    }
                }
            }
        }
    }
    let mut found: Vec<((KeyId, Version), Vec<u32>)> =
        groups.into_iter().filter(|(_, m)| m.len() > 1).collect();
    found.sort_unstable_by_key(|(_, m)| m[0]);
    found
        .into_iter()
        .map(|((k, v), members)| {
            let ops: Vec<u64> = members
                .iter()
                .map(|&t| txns.txns[t as usize].index)
                .collect();
            let key = txns.key_name(k);
            let text = format!(
                "ops {ops:?} all read key {key} = {} and then wrote it, and all committed: \
                 each update was made without seeing the others",
                show(txns, v)
            );
            make(
                "lost-update",
                ops,
                key,
                text,
                json!({"value": show(txns, v)}),
            )
        })
        .collect()
}

/// `cyclic-versions`: witnesses are the `ok` transactions that wrote the versions involved.
pub fn cyclic_versions(
    txns: &Txns,
    cycles: &[CyclicVersions],
    writers: &FastMap<(KeyId, Elem), Vec<u32>>,
) -> Vec<Anomaly> {
    cycles
        .iter()
        .map(|c| {
            let key = txns.key_name(c.key);
            let mut ops: Vec<u64> = c
                .versions
                .iter()
                .filter_map(|v| v.and_then(|e| writers.get(&(c.key, e))))
                .flatten()
                .map(|&t| txns.txns[t as usize].index)
                .collect();
            ops.sort_unstable();
            ops.dedup();
            let versions: Vec<String> = c.versions.iter().map(|&v| show(txns, v)).collect();
            let text = format!(
                "the version order of key {key} inferred from {} is cyclic: versions [{}] \
                 each precede one another, so no single order of writes explains the reads \
                 (the last of those assumptions was not used)",
                c.sources.join(" + "),
                versions.join(", ")
            );
            make(
                "cyclic-versions",
                ops,
                key,
                text,
                json!({"versions": versions, "sources": c.sources}),
            )
        })
        .collect()
}

/// `duplicate-writes`: one value written to a key by more than one `ok` transaction.
pub fn duplicate_writes(txns: &Txns, dups: &[(KeyId, Elem, Vec<u32>)]) -> Vec<Anomaly> {
    dups.iter()
        .map(|(k, e, writers)| {
            let ops: Vec<u64> = writers
                .iter()
                .map(|&t| txns.txns[t as usize].index)
                .collect();
            let key = txns.key_name(*k);
            let text = format!(
                "ops {ops:?} all wrote {} to key {key}; rw-register needs every value written \
                 once to tell which write a read saw, so nothing is inferred from it",
                txns.elem_name(*e)
            );
            Anomaly::new("duplicate-writes", ops, text)
                .with_key(key)
                .with_details(json!({"value": txns.elem_name(*e)}))
        })
        .collect()
}
