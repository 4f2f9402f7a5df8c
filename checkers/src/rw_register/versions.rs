//! Version orders of registers (Elle's `version-graphs`). A register, unlike a list, does not
//! reveal its past, so a version order is inferred only from what may be assumed:
//!
//! - *initial state* (always): nil precedes every value written or read;
//! - *writes follow reads* (`--wfr-keys`): in an `ok` transaction that externally read v and
//!   then wrote v' to the same key, v precedes v';
//! - *sequential keys* (`--sequential-keys`): each key is sequentially consistent, so the
//!   versions a process's successive `ok` transactions saw of it come in order;
//! - *linearizable keys* (`--linearizable-keys`): each key is linearizable, so a transaction
//!   that completed before another began saw (or made) an earlier version of every key both
//!   touched.
//!
//! For the last two, a transaction's last version of a key (its external write, else its
//! external read) precedes the first version (its external read, else its write) of each
//! nearest later transaction that touched the key, as Elle's
//! `transaction-graph->version-graphs` does. Each source is added in that order; one that
//! would make some key's version order cyclic is left out, and the cycle is reported
//! (`cyclic-versions`) with the sources that produced it.

use super::ext::{ExtIndex, Version};
use crate::history::OpType;
use crate::registry::KeyAssumptions;
use crate::txn_cycles::micro_op::{FastMap, KeyId, Txns};
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use std::collections::BTreeSet;

/// Per key, the edges v1 -> v2 of its version order (direct edges, as inferred).
pub type VersionGraphs = FastMap<KeyId, BTreeSet<(Version, Version)>>;

/// A cycle in one key's version order, and the sources whose union produced it.
#[derive(Debug, Clone)]
pub struct CyclicVersions {
    pub key: KeyId,
    pub versions: Vec<Version>,
    pub sources: Vec<&'static str>,
}

/// The version orders used, the sources they came from, and the cycles left out.
#[derive(Debug, Default)]
pub struct Inferred {
    pub graphs: VersionGraphs,
    pub sources: Vec<&'static str>,
    pub cycles: Vec<CyclicVersions>,
}

/// Infers version orders from the sources `assume` allows (see the module doc).
pub fn infer(txns: &Txns, ext: &ExtIndex, assume: KeyAssumptions) -> Inferred {
    let mut candidates: Vec<(&'static str, VersionGraphs)> =
        vec![("initial-state", initial_state(txns, ext))];
    if assume.writes_follow_reads {
        candidates.push(("wfr-keys", writes_follow_reads(txns, ext)));
    }
    if assume.sequential {
        candidates.push(("sequential-keys", sequential(txns, ext)));
    }
    if assume.linearizable {
        candidates.push(("linearizable-keys", linearizable(txns, ext)));
    }
    let mut out = Inferred::default();
    for (name, graphs) in candidates {
        let mut merged = out.graphs.clone();
        for (k, edges) in graphs {
            merged.entry(k).or_default().extend(edges);
        }
        let mut sources = out.sources.clone();
        sources.push(name);
        let cycles = cycles_in(&merged, &sources);
        if cycles.is_empty() {
            out.graphs = merged;
            out.sources = sources;
        } else {
            out.cycles.extend(cycles);
        }
    }
    out
}

fn link(g: &mut VersionGraphs, k: KeyId, a: Version, b: Version) {
    if a != b {
        g.entry(k).or_default().insert((a, b));
    }
}

/// nil precedes every value a possibly committed transaction wrote or an `ok` one read.
fn initial_state(txns: &Txns, ext: &ExtIndex) -> VersionGraphs {
    let mut g = VersionGraphs::default();
    for (t, e) in ext.ext.iter().enumerate() {
        if txns.txns[t].outcome == OpType::Fail {
            continue;
        }
        for &(k, v) in &e.writes {
            link(&mut g, k, None, Some(v));
        }
        for &(k, v) in &e.reads {
            link(&mut g, k, None, v);
        }
    }
    g
}

/// An `ok` transaction's non-nil external read of a key precedes its external write of it.
fn writes_follow_reads(txns: &Txns, ext: &ExtIndex) -> VersionGraphs {
    let mut g = VersionGraphs::default();
    for (t, e) in ext.ext.iter().enumerate() {
        if txns.txns[t].outcome != OpType::Ok {
            continue;
        }
        for &(k, v) in &e.reads {
            if let (Some(v), Some(w)) = (v, e.write(k)) {
                link(&mut g, k, Some(v), Some(w));
            }
        }
    }
    g
}

/// A transaction's first and last version of key `k`, if it touched it (Elle's `or` of the
/// external read and write: a nil read gives way to a write).
fn first_last(txns: &Txns, ext: &ExtIndex, t: usize, k: KeyId) -> Option<(Version, Version)> {
    let e = &ext.ext[t];
    match txns.txns[t].outcome {
        OpType::Ok => {
            let (r, w) = (e.read(k), e.write(k));
            let first = match (r, w) {
                (Some(Some(v)), _) => Some(v),
                (_, Some(w)) => Some(w),
                (Some(None), None) => None,
                (None, None) => return None,
            };
            let last = w.or_else(|| r.flatten());
            Some((first, last))
        }
        OpType::Info => e.write(k).map(|w| (Some(w), Some(w))),
        _ => None,
    }
}

/// The keys a transaction touched, in the order of its external reads then writes.
fn keys_of(ext: &ExtIndex, t: usize) -> Vec<KeyId> {
    let e = &ext.ext[t];
    let mut keys: Vec<KeyId> = e.reads.iter().map(|(k, _)| *k).collect();
    for (k, _) in &e.writes {
        if !keys.contains(k) {
            keys.push(*k);
        }
    }
    keys
}

/// Per process, its `ok` transactions in order: each key's successive versions.
fn sequential(txns: &Txns, ext: &ExtIndex) -> VersionGraphs {
    let mut g = VersionGraphs::default();
    // (process, key) -> last version seen.
    let mut last: FastMap<(u64, KeyId), Version> = FastMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome != OpType::Ok {
            continue;
        }
        for k in keys_of(ext, t) {
            let Some((first, final_version)) = first_last(txns, ext, t, k) else {
                continue;
            };
            if let Some(prev) = last.insert((txn.process, k), final_version) {
                link(&mut g, k, prev, first);
            }
        }
    }
    g
}

/// Per key, each transaction's last version precedes the first version of each nearest
/// transaction that began after it completed (the minimal ones in real-time order).
fn linearizable(txns: &Txns, ext: &ExtIndex) -> VersionGraphs {
    let mut by_key: FastMap<KeyId, Vec<u32>> = FastMap::default();
    for t in 0..txns.txns.len() {
        for k in keys_of(ext, t) {
            by_key.entry(k).or_default().push(t as u32);
        }
    }
    let mut g = VersionGraphs::default();
    for (k, mut members) in by_key {
        members.sort_by_key(|&t| txns.txns[t as usize].start);
        let starts: Vec<u64> = members
            .iter()
            .map(|&t| txns.txns[t as usize].start)
            .collect();
        // suffix_min[i]: the earliest completion among members[i..] (info: never).
        let mut suffix_min = vec![u64::MAX; members.len() + 1];
        for i in (0..members.len()).rev() {
            let end = txns.txns[members[i] as usize].end.unwrap_or(u64::MAX);
            suffix_min[i] = suffix_min[i + 1].min(end);
        }
        for &a in &members {
            let Some(end) = txns.txns[a as usize].end else {
                continue;
            };
            let Some((_, last)) = first_last(txns, ext, a as usize, k) else {
                continue;
            };
            // Later ones: invoked after a completed (closed intervals: strictly after).
            let i = starts.partition_point(|&s| s <= end);
            // Minimal: invoked no later than the earliest completion among the later ones.
            let bound = suffix_min[i];
            for j in i..members.len() {
                if starts[j] > bound {
                    break;
                }
                if let Some((first, _)) = first_last(txns, ext, members[j] as usize, k) {
                    link(&mut g, k, last, first);
                }
            }
        }
    }
    g
}

/// The cycles of every key's version order.
fn cycles_in(graphs: &VersionGraphs, sources: &[&'static str]) -> Vec<CyclicVersions> {
    let mut out = Vec::new();
    let mut keys: Vec<&KeyId> = graphs.keys().collect();
    keys.sort_unstable();
    for k in keys {
        let mut g: DiGraphMap<Version, ()> = DiGraphMap::new();
        for &(a, b) in &graphs[k] {
            g.add_edge(a, b, ());
        }
        let mut sccs: Vec<Vec<Version>> = tarjan_scc(&g)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|mut c| {
                c.sort_unstable();
                c
            })
            .collect();
        // Elle's order: by smallest version.
        sccs.sort_unstable();
        for scc in sccs {
            out.push(CyclicVersions {
                key: *k,
                versions: scc,
                sources: sources.to_vec(),
            });
        }
    }
    out
}
