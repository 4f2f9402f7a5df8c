//! The dependency graph over transactions: ww, wr, rw edges from the version orders, plus
//! process and real-time edges, in a compact petgraph [`Csr`].
//!
//! Nodes are transaction numbers (positions in [`Txns::txns`]); `fail` transactions have no
//! edges (they did not happen), `info` ones do (they may have committed: Elle's "possible"
//! history). Parallel edges are merged into one whose weight is a bit set of [`Label`]s.
//!
//! Real-time order is a transitive reduction, not all pairs (Elle's approach): sweeping events
//! in time order we keep the frontier of most recently completed transactions; an invocation is
//! linked from every frontier member, and a completion removes from the frontier the
//! transactions it was linked from (they now precede it, so they precede whatever it precedes).
//! Intervals are closed: a transaction that completes at the very time another is invoked is
//! concurrent with it, so at equal times invocations are processed first.

use super::micro_op::{MopKind, Txns};
use super::version_order::{VersionOrders, NO_VERSION, NO_WRITER};
use crate::history::OpType;
use petgraph::csr::Csr;
use petgraph::Directed;
use rayon::slice::ParallelSliceMut;

/// Edge labels, one bit each in an edge weight.
pub struct Label;

impl Label {
    pub const WW: u8 = 1;
    pub const WR: u8 = 2;
    pub const RW: u8 = 4;
    pub const PROCESS: u8 = 8;
    pub const REALTIME: u8 = 16;
    /// Dependencies inferred from data.
    pub const DATA: u8 = Self::WW | Self::WR | Self::RW;
    pub const ALL: [(u8, &'static str); 5] = [
        (Self::WW, "ww"),
        (Self::WR, "wr"),
        (Self::RW, "rw"),
        (Self::PROCESS, "process"),
        (Self::REALTIME, "realtime"),
    ];
}

/// The graph type: node weights unused, edge weights are label bit sets.
pub type DepGraph = Csr<(), u8, Directed, u32>;

/// The order edges a set of consistency models needs (Elle builds process and real-time edges
/// only when an anomaly the models prohibit uses them; real-time order covers process order,
/// a process being sequential): [`Label::PROCESS`] and/or [`Label::REALTIME`] bits.
pub fn scope(models: &[String]) -> u8 {
    let prohibited = crate::consistency_model::anomalies_prohibited_by(models);
    if prohibited.iter().any(|a| a.ends_with("-realtime")) {
        Label::PROCESS | Label::REALTIME
    } else if prohibited.iter().any(|a| a.ends_with("-process")) {
        Label::PROCESS
    } else {
        0
    }
}

/// Builds the dependency graph over `txns.txns.len()` nodes, with the order edges in `scope`.
pub fn build(txns: &Txns, vo: &VersionOrders, scope: u8) -> DepGraph {
    let mut edges: Vec<(u32, u32, u8)> = Vec::with_capacity(txns.txns.len() * 4);
    data_edges(txns, vo, &mut edges);
    order_edges(txns, scope, &mut edges);
    from_edges(txns.txns.len(), edges)
}

/// The process and real-time edges in `scope` (shared with rw-register).
pub fn order_edges(txns: &Txns, scope: u8, edges: &mut Vec<(u32, u32, u8)>) {
    if scope & Label::PROCESS != 0 {
        process_edges(txns, scope & Label::REALTIME != 0, edges);
    }
    if scope & Label::REALTIME != 0 {
        realtime_edges(txns, edges);
    }
}

/// A graph over `n` nodes from labelled edges, parallel edges merged.
pub fn from_edges(n: usize, mut edges: Vec<(u32, u32, u8)>) -> DepGraph {
    edges.par_sort_unstable_by_key(|&(a, b, _)| (a, b));
    // Merge parallel edges in place (no second list: at a million transactions the edge list
    // is the largest thing the checker builds).
    edges.dedup_by(|later, kept| {
        let same = later.0 == kept.0 && later.1 == kept.1;
        if same {
            kept.2 |= later.2;
        }
        same
    });
    let mut g = match DepGraph::from_sorted_edges(&edges) {
        Ok(g) => g,
        Err(_) => DepGraph::with_nodes(0), // unreachable: the edges were just sorted
    };
    while g.node_count() < n {
        g.add_node(());
    }
    g
}

fn possible(txns: &Txns, t: u32) -> bool {
    txns.txns[t as usize].outcome != OpType::Fail
}

/// ww, wr and rw edges.
fn data_edges(txns: &Txns, vo: &VersionOrders, edges: &mut Vec<(u32, u32, u8)>) {
    // The writer at a position of a key's order, if it may have committed.
    let writer_at = |key: usize, pos: usize| {
        let w = vo.order_writers[key][pos];
        (w != NO_WRITER && possible(txns, w)).then_some(w)
    };
    // ww: consecutive elements of each order, and the last element to unobserved appends.
    for (key, order) in vo.order_writers.iter().enumerate() {
        for pos in 1..order.len() {
            if let (Some(a), Some(b)) = (writer_at(key, pos - 1), writer_at(key, pos)) {
                if a != b {
                    edges.push((a, b, Label::WW));
                }
            }
        }
    }
    for (&key, appends) in &vo.unobserved {
        let len = vo.orders[key as usize].len();
        let Some(a) = len.checked_sub(1).and_then(|p| writer_at(key as usize, p)) else {
            continue;
        };
        for &(t, _) in appends {
            if a != t {
                edges.push((a, t, Label::WW));
            }
        }
    }
    // wr and rw, from each read's observed version.
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome == OpType::Fail {
            continue;
        }
        let t = t as u32;
        for i in 0..txn.mop_len {
            let m = (txn.mop_start + i) as usize;
            let mop = txns.mops[m];
            let version = vo.read_version[m] as usize;
            if !matches!(mop.kind, MopKind::Read { .. }) || version == NO_VERSION as usize {
                continue;
            }
            let key = mop.key as usize;
            if version > 0 {
                if let Some(w) = writer_at(key, version - 1) {
                    if w != t {
                        edges.push((w, t, Label::WR));
                    }
                }
            }
            if version < vo.orders[key].len() {
                if let Some(w) = writer_at(key, version) {
                    if w != t {
                        edges.push((t, w, Label::RW));
                    }
                }
            } else if let Some(appends) = vo.unobserved.get(&mop.key) {
                for &(w, _) in appends {
                    if w != t {
                        edges.push((t, w, Label::RW));
                    }
                }
            }
        }
    }
}

/// Successive transactions of each process (failed ones skipped: they did not happen). With
/// real-time edges too, only the pairs real time leaves unordered (the next one invoked at the
/// very time the previous completed) get a process edge: the others are real-time edges, as
/// Elle names them when it uses real time (a process is sequential).
fn process_edges(txns: &Txns, with_realtime: bool, edges: &mut Vec<(u32, u32, u8)>) {
    let mut last: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome == OpType::Fail {
            continue;
        }
        if let Some(prev) = last.insert(txn.process, t as u32) {
            let in_real_time = txns.txns[prev as usize]
                .end
                .is_some_and(|end| end < txn.start);
            if !(with_realtime && in_real_time) {
                edges.push((prev, t as u32, Label::PROCESS));
            }
        }
    }
}

/// Real-time edges as a transitive reduction (see the module doc).
fn realtime_edges(txns: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
    // (time, 0 = invoke | 1 = completion, txn): invocations sort first at equal times.
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(txns.txns.len() * 2);
    for (t, txn) in txns.txns.iter().enumerate() {
        if txn.outcome == OpType::Fail {
            continue;
        }
        events.push((txn.start, 0, t as u32));
        if let Some(end) = txn.end {
            events.push((end, 1, t as u32));
        }
    }
    events.par_sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for (_, kind, t) in events {
        if kind == 0 {
            for &f in &frontier {
                edges.push((f, t, Label::REALTIME));
            }
            if txns.txns[t as usize].end.is_some() {
                preds.insert(t, frontier.clone());
            }
        } else {
            let before = preds.remove(&t).unwrap_or_default();
            frontier.retain(|f| !before.contains(f));
            frontier.push(t);
        }
    }
}
