//! Anomalies that need no dependency graph: aborted and intermediate reads, internal
//! inconsistency, dirty and lost updates, incompatible orders and duplicate elements.
//!
//! Semantics settled here (Elle's list-append rules):
//! - G1a: an `ok` transaction read an element appended by a `fail`ed one, one anomaly per such
//!   element (as Elle). Only `fail` counts as aborted: an `info` transaction whose append is
//!   seen evidently committed.
//! - G1b: an `ok` transaction's read ends in an element that another transaction appended but
//!   followed with a later append to the same key (so the value read was never committed state).
//! - internal: an `ok` transaction's read disagrees with its own earlier reads and appends of the
//!   key (a read after appends must end with those appends; after a read, with that read plus
//!   the appends since).
//! - dirty-update: in a key's version order, an element of a `fail`ed transaction is followed by
//!   one of an `ok` transaction: committed state was built on aborted state.
//! - lost-update: two or more `ok` transactions read the same value of a key (before
//!   appending to it themselves) and both appended to it: one's update was lost to the other.
//! - incompatible-order: one per key whose reads are not all prefixes of its longest read.
//! - future-read: an `ok` transaction read an element that it appends only later (a trivial
//!   write-read cycle of one transaction; Elle counts it as G1c).
//! - duplicate-appends: one element appended to a key more than once. List-append assumes
//!   every element is appended once, as Elle does; no dependency is inferred from such an
//!   element, and Elle's verdict for such a history is unknown.

use super::explain::{models_ruled_out, show_list};
use super::micro_op::{Elem, FastMap, KeyId, MopKind, Txns};
use super::version_order::VersionOrders;
use crate::history::OpType;
use crate::result::Anomaly;
use serde_json::{json, Value};

/// `future-read`: reads of an element the same transaction appends later, one per transaction.
pub fn future_reads(txns: &Txns) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        let mops = txns.mops_of(t);
        let found = mops.iter().enumerate().find_map(|(i, mop)| {
            let MopKind::Append(e) = mop.kind else {
                return None;
            };
            mops[..i]
                .iter()
                .enumerate()
                .find_map(|(j, m)| match m.kind {
                    MopKind::Read { start, len }
                        if m.key == mop.key && txns.read_list(start, len).contains(&e) =>
                    {
                        Some((j, i, e, start, len))
                    }
                    _ => None,
                })
        });
        let Some((read_mop, append_mop, e, start, len)) = found else {
            continue;
        };
        let key = txns.key_name(mops[append_mop].key);
        let text = format!(
            "op {} read key {key} = {} in micro-op {read_mop}, which includes {}, an element \
             the same transaction appends only later, in micro-op {append_mop}: it read its \
             own future write",
            txn.index,
            show_list(txns, txns.read_list(start, len)),
            txns.elem_name(e)
        );
        out.push(make(
            "future-read",
            vec![txn.index],
            key,
            text,
            json!({"element": txns.elem_name(e), "mop": read_mop}),
        ));
    }
    out
}

/// `duplicate-appends`: elements appended to one key by more than one micro-op.
pub fn duplicate_appends(txns: &Txns, vo: &VersionOrders) -> Vec<Anomaly> {
    vo.duplicate_appends
        .iter()
        .map(|&(key, e, a, b)| {
            let (a, b) = (&txns.txns[a as usize], &txns.txns[b as usize]);
            let key = txns.key_name(key);
            let ops = if a.index == b.index {
                vec![a.index]
            } else {
                vec![a.index, b.index]
            };
            let text = format!(
                "ops {} and {} both appended {} to key {key}; list-append needs every element \
                 appended once to tell which append a read saw, so nothing is inferred from \
                 this element and the history can be judged unknown at best",
                a.index,
                b.index,
                txns.elem_name(e)
            );
            Anomaly::new("duplicate-appends", ops, text)
                .with_key(key)
                .with_details(json!({"element": txns.elem_name(e)}))
        })
        .collect()
}

/// An anomaly with its ruled-out models appended to the explanation and the details.
pub fn make(kind: &str, ops: Vec<u64>, key: &str, text: String, mut details: Value) -> Anomaly {
    let models = models_ruled_out(kind);
    let explanation = format!("{text} (not: {}).", models.join(", "));
    if let Value::Object(map) = &mut details {
        map.insert("not".into(), Value::from(models));
    }
    Anomaly::new(kind, ops, explanation)
        .with_key(key)
        .with_details(details)
}

/// G1a and G1b, from every `ok` read.
pub fn aborted_and_intermediate_reads(txns: &Txns, vo: &VersionOrders) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        for mop in txns.mops_of(t) {
            let MopKind::Read { start, len } = mop.kind else {
                continue;
            };
            let list = txns.read_list(start, len);
            let key = txns.key_name(mop.key);
            // One G1a per element read from a failed append (Elle's granularity).
            for &e in list {
                let Some(w) = vo.writers.get(&(mop.key, e)) else {
                    continue;
                };
                let wt = &txns.txns[w.txn as usize];
                if wt.outcome != OpType::Fail {
                    continue;
                }
                let text = format!(
                    "op {} read key {key} = {}, which includes {}, appended by op {}, a \
                     transaction that failed (did not commit)",
                    txn.index,
                    show_list(txns, list),
                    txns.elem_name(e),
                    wt.index
                );
                out.push(make(
                    "G1a",
                    vec![wt.index, txn.index],
                    key,
                    text,
                    json!({"element": txns.elem_name(e), "writer": wt.index, "reader": txn.index}),
                ));
            }
            let Some(&last) = list.last() else { continue };
            let Some(w) = vo.writers.get(&(mop.key, last)) else {
                continue;
            };
            let wt = &txns.txns[w.txn as usize];
            // A failed writer's intermediate element counts too (it is also G1a), as in Elle.
            if w.txn as usize != t && !w.last_of_key {
                let text = format!(
                    "op {} read key {key} = {}, ending in {}, which op {} appended and then \
                     appended to {key} again: the read observed an intermediate state",
                    txn.index,
                    show_list(txns, list),
                    txns.elem_name(last),
                    wt.index
                );
                out.push(make(
                    "G1b",
                    vec![wt.index, txn.index],
                    key,
                    text,
                    json!({"element": txns.elem_name(last), "writer": wt.index, "reader": txn.index}),
                ));
            }
        }
    }
    out
}

/// What a transaction expects a key to hold, from its own earlier micro-ops.
enum Expect {
    /// The whole list (after a read of it).
    Known(Vec<Elem>),
    /// Only how it must end (after appends with no read before them).
    Suffix(Vec<Elem>),
}

/// `internal`: reads that disagree with the transaction's own earlier micro-ops.
pub fn internal(txns: &Txns) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        let mut state: Vec<(KeyId, Expect)> = Vec::new();
        for (i, mop) in txns.mops_of(t).iter().enumerate() {
            let slot = state.iter().position(|(k, _)| *k == mop.key);
            match mop.kind {
                MopKind::Append(e) => match slot {
                    Some(s) => match &mut state[s].1 {
                        Expect::Known(v) | Expect::Suffix(v) => v.push(e),
                    },
                    None => state.push((mop.key, Expect::Suffix(vec![e]))),
                },
                MopKind::Read { start, len } => {
                    let list = txns.read_list(start, len);
                    let bad = match slot.map(|s| &state[s].1) {
                        Some(Expect::Known(v)) => v.as_slice() != list,
                        Some(Expect::Suffix(v)) => !list.ends_with(v),
                        None => false,
                    };
                    if bad {
                        let expected = match slot.map(|s| &state[s].1) {
                            Some(Expect::Known(v)) => show_list(txns, v),
                            Some(Expect::Suffix(v)) => {
                                format!("[..., {}]", &show_list(txns, v)[1..])
                            }
                            None => String::new(),
                        };
                        let key = txns.key_name(mop.key);
                        let text = format!(
                            "op {} read key {key} = {} in micro-op {}, but its own earlier \
                             reads and appends in the same transaction imply {expected}",
                            txn.index,
                            show_list(txns, list),
                            i
                        );
                        out.push(make(
                            "internal",
                            vec![txn.index],
                            key,
                            text,
                            json!({"mop": i, "expected": expected}),
                        ));
                        break;
                    }
                    let known = Expect::Known(list.to_vec());
                    match slot {
                        Some(s) => state[s].1 = known,
                        None => state.push((mop.key, known)),
                    }
                }
                MopKind::UnknownRead | MopKind::Write(_) | MopKind::ReadValue(_) => {}
            }
        }
    }
    out
}

/// `dirty-update`: a failed transaction's element followed by a committed one's.
pub fn dirty_updates(txns: &Txns, vo: &VersionOrders) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (key, order) in vo.orders.iter().enumerate() {
        let key = key as KeyId;
        let mut failed: Option<(Elem, u32)> = None;
        for &e in order {
            let Some(w) = vo.writers.get(&(key, e)) else {
                continue;
            };
            match txns.txns[w.txn as usize].outcome {
                OpType::Fail => failed = failed.or(Some((e, w.txn))),
                OpType::Ok => {
                    if let Some((fe, ft)) = failed.take() {
                        let (f, o) = (&txns.txns[ft as usize], &txns.txns[w.txn as usize]);
                        let name = txns.key_name(key);
                        let text = format!(
                            "in the version order of key {name}, {} appended by op {} (which \
                             failed) is followed by {} appended by op {} (which committed): \
                             committed state was built on aborted state",
                            txns.elem_name(fe),
                            f.index,
                            txns.elem_name(e),
                            o.index
                        );
                        out.push(make(
                            "dirty-update",
                            vec![f.index, o.index],
                            name,
                            text,
                            json!({"aborted": txns.elem_name(fe), "committed": txns.elem_name(e)}),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A read by a transaction: (txn, list start, list len).
type ListRead = (u32, u32, u32);

/// `lost-update`: committed transactions that read the same value of a key (their first
/// access to it) and then appended to it. Versions are identified by the list read, as Elle
/// does, so reads outside the inferred order (incompatible ones) still count.
pub fn lost_updates(txns: &Txns) -> Vec<Anomaly> {
    // (key, hash of the list) -> readers; equal hashes are re-checked.
    let mut groups: FastMap<(KeyId, u64), Vec<ListRead>> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        let mops = txns.mops_of(t);
        let mut seen: Vec<KeyId> = Vec::new();
        for (i, mop) in mops.iter().enumerate() {
            if seen.contains(&mop.key) {
                continue;
            }
            seen.push(mop.key);
            let MopKind::Read { start, len } = mop.kind else {
                continue;
            };
            let appends_later = mops[i + 1..]
                .iter()
                .any(|m| m.key == mop.key && matches!(m.kind, MopKind::Append(_)));
            if appends_later {
                let hash = hash_list(txns.read_list(start, len));
                groups
                    .entry((mop.key, hash))
                    .or_default()
                    .push((t as u32, start, len));
            }
        }
    }
    let mut found: Vec<(KeyId, Vec<ListRead>)> = Vec::new();
    for ((key, _), mut members) in groups {
        while members.len() > 1 {
            let (_, s0, l0) = members[0];
            let list = txns.read_list(s0, l0);
            let (same, rest): (Vec<_>, Vec<_>) = members
                .into_iter()
                .partition(|&(_, s, l)| txns.read_list(s, l) == list);
            if same.len() > 1 {
                found.push((key, same));
            }
            members = rest;
        }
    }
    found.sort_unstable_by_key(|(_, m)| m[0].0);
    found
        .into_iter()
        .map(|(key, members)| {
            let ops: Vec<u64> = members
                .iter()
                .map(|&(t, _, _)| txns.txns[t as usize].index)
                .collect();
            let name = txns.key_name(key);
            let (_, s0, l0) = members[0];
            let version = show_list(txns, txns.read_list(s0, l0));
            let text = format!(
                "ops {} all read key {name} = {version} and then appended to it, and all \
                 committed: each update was made without seeing the others",
                ops.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            make("lost-update", ops, name, text, json!({"version": version}))
        })
        .collect()
}

fn hash_list(list: &[Elem]) -> u64 {
    use std::hash::Hasher;
    let mut h = super::micro_op::FastHasher::default();
    h.write_u64(list.len() as u64);
    for &e in list {
        h.write_i64(e);
    }
    h.finish()
}

/// `incompatible-order` and `duplicate-elements`, from the version-order inference.
pub fn order_anomalies(txns: &Txns, vo: &VersionOrders) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let list_of = |m: u32| match txns.mops[m as usize].kind {
        MopKind::Read { start, len } => txns.read_list(start, len),
        _ => &[],
    };
    // One anomaly per key (Elle reports incompatible orders per key), citing its first
    // incompatible read and counting the others.
    let mut per_key: FastMap<KeyId, usize> = FastMap::default();
    for inc in &vo.incompatible {
        *per_key.entry(inc.key).or_insert(0) += 1;
    }
    for inc in &vo.incompatible {
        let Some(reads) = per_key.remove(&inc.key) else {
            continue;
        };
        let t = &txns.txns[inc.txn as usize];
        let key = txns.key_name(inc.key);
        let longest = vo.longest_reader[inc.key as usize].map(|l| &txns.txns[l as usize]);
        let (lidx, lshow) = longest.map_or((t.index, String::new()), |l| {
            (l.index, show_list(txns, &vo.orders[inc.key as usize]))
        });
        let text = format!(
            "op {} read key {key} = {}, but op {lidx} read it as {lshow}; neither is a prefix \
             of the other, so no single order of appends explains both ({reads} read(s) of \
             {key} disagree with the longest one)",
            t.index,
            show_list(txns, list_of(inc.mop))
        );
        out.push(make(
            "incompatible-order",
            vec![lidx, t.index],
            key,
            text,
            json!({"incompatible_reads": reads}),
        ));
    }
    for d in &vo.duplicates {
        let t = &txns.txns[d.txn as usize];
        let key = txns.key_name(d.key);
        let text = format!(
            "op {} read key {key} = {}, which holds {} more than once (each element is \
             appended once)",
            t.index,
            show_list(txns, list_of(d.mop)),
            txns.elem_name(d.elem)
        );
        out.push(make(
            "duplicate-elements",
            vec![t.index],
            key,
            text,
            json!({"element": txns.elem_name(d.elem)}),
        ));
    }
    out
}
