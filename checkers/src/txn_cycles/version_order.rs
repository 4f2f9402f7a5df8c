//! Version orders of list keys, inferred from reads (Elle's list-append inference).
//!
//! A list records every append it has taken, so one read reveals the order of all appends
//! before it. For each key the longest read is taken as the version order; every other read
//! must be a prefix of it, else the database showed two incompatible orders
//! (`incompatible-order`) and that read takes no part in the dependency graph. A read that
//! holds one element twice is `duplicate-elements` (elements are appended once); the order keeps
//! the first occurrence.
//!
//! An append of a committed (or possibly committed) transaction that no read observed still
//! happened after every observed element of its key: lists only grow at the end. Elle uses this
//! (`previously-appended-element`), and so do we, for ww and rw edges to the unobserved append.

use super::micro_op::{Elem, FastMap, KeyId, MopKind, Txns};
use crate::history::OpType;

/// Which transaction appended an element, and whether it was that transaction's last append to
/// the key (a read ending in a non-final append is an intermediate read, G1b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    pub txn: u32,
    /// Position of the append among the transaction's micro-ops.
    pub mop: u32,
    pub last_of_key: bool,
}

/// A read that is not a prefix of its key's version order.
#[derive(Debug, Clone, Copy)]
pub struct Incompatible {
    pub txn: u32,
    /// Global micro-op index of the read.
    pub mop: u32,
    pub key: KeyId,
}

/// A read that holds one element more than once.
#[derive(Debug, Clone, Copy)]
pub struct Duplicate {
    pub txn: u32,
    pub mop: u32,
    pub key: KeyId,
    pub elem: Elem,
}

/// Marks a position whose writer is unknown.
pub const NO_WRITER: u32 = u32::MAX;

/// Marks a read that takes no part in inference.
pub const NO_VERSION: u32 = u32::MAX;

/// Everything inferred about versions.
#[derive(Debug, Default)]
pub struct VersionOrders {
    /// Per key: the distinct elements of its longest read, in order.
    pub orders: Vec<Vec<Elem>>,
    /// Per key: the transaction whose read gave the order (for explanations), if any.
    pub longest_reader: Vec<Option<u32>>,
    /// (key, element) -> position in the key's order.
    pub position: FastMap<(KeyId, Elem), u32>,
    /// (key, element) -> its writer. Elements appended by two transactions are left out (the
    /// writer is ambiguous) and counted in `ambiguous_appends`.
    pub writers: FastMap<(KeyId, Elem), Writer>,
    /// Per key, per position of its order: the writer's transaction, or `NO_WRITER` (no
    /// append of it in the history, or an ambiguous one). Saves the graph a hash lookup per read.
    pub order_writers: Vec<Vec<u32>>,
    pub ambiguous_appends: usize,
    /// Elements appended to one key more than once: (key, element, first appender, second).
    pub duplicate_appends: Vec<(KeyId, Elem, u32, u32)>,
    /// Per global micro-op index: for a usable read, the length of the version it observed
    /// (0 = the empty initial list); `NO_VERSION` otherwise.
    pub read_version: Vec<u32>,
    /// Per key: appends by ok/info transactions that no read observed, as (txn, mop position).
    pub unobserved: FastMap<KeyId, Vec<(u32, u32)>>,
    pub incompatible: Vec<Incompatible>,
    pub duplicates: Vec<Duplicate>,
}

/// Infers version orders, writers and the version each read observed.
pub fn infer(txns: &Txns) -> VersionOrders {
    let nkeys = txns.key_names.len();
    let mut vo = VersionOrders {
        orders: vec![Vec::new(); nkeys],
        longest_reader: vec![None; nkeys],
        read_version: vec![NO_VERSION; txns.mops.len()],
        ..VersionOrders::default()
    };
    // 1. The longest read of each key: (len, global mop index).
    let mut longest: Vec<Option<(u32, u32, u32)>> = vec![None; nkeys];
    for_each_read(txns, |t, m, key, start, len| {
        let slot = &mut longest[key as usize];
        if slot.is_none_or(|(l, _, _)| len > l) {
            *slot = Some((len, start, t));
        }
        let _ = m;
    });
    for (key, slot) in longest.iter().enumerate() {
        let Some((len, start, t)) = *slot else {
            continue;
        };
        let list = txns.read_list(start, len);
        let order = &mut vo.orders[key];
        for &e in list {
            if let std::collections::hash_map::Entry::Vacant(v) =
                vo.position.entry((key as KeyId, e))
            {
                v.insert(order.len() as u32);
                order.push(e);
            }
        }
        vo.longest_reader[key] = Some(t);
    }
    check_reads(txns, &longest, &mut vo);
    index_writers(txns, &mut vo);
    vo.order_writers = vo
        .orders
        .iter()
        .enumerate()
        .map(|(key, order)| {
            order
                .iter()
                .map(|&e| {
                    vo.writers
                        .get(&(key as KeyId, e))
                        .map_or(NO_WRITER, |w| w.txn)
                })
                .collect()
        })
        .collect();
    vo
}

/// Checks every read against its key's longest read: a prefix observes version pos(last) + 1;
/// anything else is an incompatible order. Duplicates are looked for in the longest reads and
/// the incompatible ones (a prefix of a duplicate-free list has none).
fn check_reads(txns: &Txns, longest: &[Option<(u32, u32, u32)>], vo: &mut VersionOrders) {
    let mut incompatible = Vec::new();
    let mut duplicates = Vec::new();
    let mut read_version = std::mem::take(&mut vo.read_version);
    for_each_read(txns, |t, m, key, start, len| {
        let list = txns.read_list(start, len);
        let Some((llen, lstart, _)) = longest[key as usize] else {
            return;
        };
        let full = txns.read_list(lstart, llen);
        if list.len() > full.len() || full[..list.len()] != *list {
            incompatible.push(Incompatible {
                txn: t,
                mop: m,
                key,
            });
            if let Some(e) = first_duplicate(list) {
                duplicates.push(Duplicate {
                    txn: t,
                    mop: m,
                    key,
                    elem: e,
                });
            }
            return;
        }
        if start == lstart {
            if let Some(e) = first_duplicate(list) {
                duplicates.push(Duplicate {
                    txn: t,
                    mop: m,
                    key,
                    elem: e,
                });
            }
        }
        read_version[m as usize] = match list.last() {
            None => 0,
            Some(&e) => vo.position.get(&(key, e)).map_or(NO_VERSION, |p| p + 1),
        };
    });
    vo.read_version = read_version;
    vo.incompatible = incompatible;
    vo.duplicates = duplicates;
}

/// Calls `f(txn, global mop index, key, start, len)` for every known read.
fn for_each_read(txns: &Txns, mut f: impl FnMut(u32, u32, KeyId, u32, u32)) {
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome == OpType::Fail {
            continue;
        }
        for i in 0..txn.mop_len {
            let m = txn.mop_start + i;
            let mop = txns.mops[m as usize];
            if let MopKind::Read { start, len } = mop.kind {
                f(t as u32, m, mop.key, start, len);
            }
        }
    }
}

/// The first element that occurs twice in a list, if any.
fn first_duplicate(list: &[Elem]) -> Option<Elem> {
    if list.len() < 2 {
        return None;
    }
    let mut seen: FastMap<Elem, ()> = FastMap::default();
    seen.reserve(list.len());
    list.iter().copied().find(|&e| seen.insert(e, ()).is_some())
}

/// Fills `writers` and `unobserved`.
fn index_writers(txns: &Txns, vo: &mut VersionOrders) {
    let mut ambiguous: FastMap<(KeyId, Elem), ()> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        let mops = txns.mops_of(t);
        for (i, mop) in mops.iter().enumerate() {
            let MopKind::Append(e) = mop.kind else {
                continue;
            };
            let last_of_key = !mops[i + 1..]
                .iter()
                .any(|m| m.key == mop.key && matches!(m.kind, MopKind::Append(_)));
            let w = Writer {
                txn: t as u32,
                mop: i as u32,
                last_of_key,
            };
            if let Some(earlier) = vo.writers.insert((mop.key, e), w) {
                if ambiguous.insert((mop.key, e), ()).is_none() {
                    vo.duplicate_appends
                        .push((mop.key, e, earlier.txn, t as u32));
                }
            }
            if txn.outcome != OpType::Fail && !vo.position.contains_key(&(mop.key, e)) {
                vo.unobserved
                    .entry(mop.key)
                    .or_default()
                    .push((t as u32, i as u32));
            }
        }
    }
    vo.ambiguous_appends = ambiguous.len();
    for k in ambiguous.keys() {
        vo.writers.remove(k);
    }
}
