//! What each transaction read and wrote as seen from outside it (Elle's `ext-reads` and
//! `ext-writes`), and who wrote or read each version.
//!
//! A transaction's *external read* of key k is its first read of k, when no write of k comes
//! before it in the transaction; its *external write* is its last write of k. Only an `ok`
//! transaction's reads are known (`info` reads of nil are defaults, not observations); an `info`
//! transaction's writes may have happened; a `fail`ed one did neither. A version is
//! `Option<Elem>`: `None` is the initial nil.

use crate::history::OpType;
use crate::txn_cycles::micro_op::{Elem, FastMap, KeyId, MopKind, Txns};

/// A version of a key: a written value, or `None` for the initial nil.
pub type Version = Option<Elem>;

/// One transaction's external reads and writes.
#[derive(Debug, Clone, Default)]
pub struct Ext {
    pub reads: Vec<(KeyId, Version)>,
    pub writes: Vec<(KeyId, Elem)>,
}

impl Ext {
    pub fn read(&self, k: KeyId) -> Option<Version> {
        self.reads
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
    }

    pub fn write(&self, k: KeyId) -> Option<Elem> {
        self.writes
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
    }
}

/// Every transaction's [`Ext`], and indices of the `ok` ones by version (as Elle's
/// `ext-index`, which indexes `ok` transactions only).
#[derive(Debug, Default)]
pub struct ExtIndex {
    pub ext: Vec<Ext>,
    /// (key, value) -> `ok` transactions that externally wrote it.
    pub writers: FastMap<(KeyId, Elem), Vec<u32>>,
    /// (key, version) -> `ok` transactions that externally read it.
    pub readers: FastMap<(KeyId, Version), Vec<u32>>,
    /// Micro-ops of list-append (appends, list reads): not understood here.
    pub foreign: usize,
}

/// Computes every transaction's external reads and writes.
pub fn index(txns: &Txns) -> ExtIndex {
    let mut out = ExtIndex::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        let (ext, foreign) = ext_of(txns, t);
        out.foreign += foreign;
        if txn.outcome == OpType::Ok {
            for &(k, v) in &ext.writes {
                out.writers.entry((k, v)).or_default().push(t as u32);
            }
            for &(k, v) in &ext.reads {
                out.readers.entry((k, v)).or_default().push(t as u32);
            }
        }
        out.ext.push(ext);
    }
    out
}

/// One transaction's external reads and writes, and how many micro-ops were foreign.
fn ext_of(txns: &Txns, t: usize) -> (Ext, usize) {
    let outcome = txns.txns[t].outcome;
    let mut ext = Ext::default();
    let mut foreign = 0;
    if outcome == OpType::Fail {
        return (ext, 0);
    }
    let mut touched: Vec<KeyId> = Vec::new();
    for mop in txns.mops_of(t) {
        let read = match mop.kind {
            MopKind::Write(e) => {
                match ext.writes.iter_mut().find(|(k, _)| *k == mop.key) {
                    Some(w) => w.1 = e,
                    None => ext.writes.push((mop.key, e)),
                }
                touched.push(mop.key);
                continue;
            }
            MopKind::ReadValue(e) => Some(Some(e)),
            MopKind::Read { len: 0, .. } => Some(None),
            MopKind::UnknownRead => None,
            MopKind::Append(_) | MopKind::Read { .. } => {
                foreign += 1;
                continue;
            }
        };
        if !touched.contains(&mop.key) {
            touched.push(mop.key);
            if let (Some(v), OpType::Ok) = (read, outcome) {
                ext.reads.push((mop.key, v));
            }
        }
    }
    (ext, foreign)
}
