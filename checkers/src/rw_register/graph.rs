//! The dependency graph of a register history (Elle's `rw-register/graph`): wr edges from the
//! value each read returned to the one transaction that wrote it, ww and rw edges from the
//! inferred version orders, plus the process and real-time edges the requested models use.
//! Edges relate `ok` transactions only (Elle indexes only those), and each step of a cycle is
//! explained from the same facts.

use super::ext::{ExtIndex, Version};
use super::versions::VersionGraphs;
use crate::txn_cycles::cycles::Step;
use crate::txn_cycles::graph::{self, DepGraph, Label};
use crate::txn_cycles::micro_op::{Elem, KeyId, Txns};

/// The graph, and the values written by more than one transaction (no wr edge is inferred
/// from them: which write a read saw is ambiguous).
pub struct Built {
    pub graph: DepGraph,
    pub duplicate_writes: Vec<(KeyId, Elem, Vec<u32>)>,
}

/// Builds the graph over every transaction, with the order edges in `scope`.
pub fn build(txns: &Txns, ext: &ExtIndex, versions: &VersionGraphs, scope: u8) -> Built {
    let mut edges: Vec<(u32, u32, u8)> = Vec::new();
    let mut duplicate_writes = Vec::new();
    for (&(k, v), readers) in &ext.readers {
        let Some(v) = v else { continue };
        match ext.writers.get(&(k, v)).map(Vec::as_slice) {
            Some([w]) => {
                edges.extend(
                    readers
                        .iter()
                        .filter(|&&r| r != *w)
                        .map(|&r| (*w, r, Label::WR)),
                );
            }
            Some(ws) if ws.len() > 1 => duplicate_writes.push((k, v, ws.to_vec())),
            _ => {}
        }
    }
    duplicate_writes.sort_unstable();
    for (&k, vg) in versions {
        for &(a, b) in vg {
            let Some(b) = b else { continue };
            let Some(to) = ext.writers.get(&(k, b)) else {
                continue;
            };
            let from_writes = a.and_then(|a| ext.writers.get(&(k, a)));
            let from_reads = ext.readers.get(&(k, a));
            for &t2 in to {
                for &t1 in from_writes.into_iter().flatten() {
                    if t1 != t2 {
                        edges.push((t1, t2, Label::WW));
                    }
                }
                for &t1 in from_reads.into_iter().flatten() {
                    if t1 != t2 {
                        edges.push((t1, t2, Label::RW));
                    }
                }
            }
        }
    }
    graph::order_edges(txns, scope, &mut edges);
    Built {
        graph: graph::from_edges(txns.txns.len(), edges),
        duplicate_writes,
    }
}

/// Why `step` holds through a data dependency, in words.
pub fn justify(
    step: &Step,
    txns: &Txns,
    ext: &ExtIndex,
    versions: &VersionGraphs,
    an: &str,
    bn: &str,
) -> Option<String> {
    let (a, b) = (&ext.ext[step.from as usize], &ext.ext[step.to as usize]);
    let show = |v: Version| v.map_or("nil".to_string(), |e| txns.elem_name(e));
    let later = |k: KeyId, v1: Version, v2: Elem| {
        versions
            .get(&k)
            .is_some_and(|g| g.contains(&(v1, Some(v2))))
    };
    match step.label {
        Label::WR => a.writes.iter().find_map(|&(k, v)| {
            (b.read(k) == Some(Some(v))).then(|| {
                format!(
                    "{an} wrote key {} = {}, which {bn} read",
                    txns.key_name(k),
                    txns.elem_name(v)
                )
            })
        }),
        Label::WW => a.writes.iter().find_map(|&(k, v1)| {
            let v2 = b.write(k)?;
            later(k, Some(v1), v2).then(|| {
                format!(
                    "{an} set key {} to {}, and {bn} set it to {}, which came later in the \
                     version order",
                    txns.key_name(k),
                    txns.elem_name(v1),
                    txns.elem_name(v2)
                )
            })
        }),
        Label::RW => a.reads.iter().find_map(|&(k, v1)| {
            let v2 = b.write(k)?;
            later(k, v1, v2).then(|| {
                format!(
                    "{an} read key {} = {}, and {bn} set it to {}, which came later in the \
                     version order",
                    txns.key_name(k),
                    show(v1),
                    txns.elem_name(v2)
                )
            })
        }),
        _ => None,
    }
}
