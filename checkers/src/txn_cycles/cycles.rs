//! Strongly connected components and the shortest cycle of each anomaly class inside them.
//!
//! Any cycle in the dependency graph is an anomaly; which one depends on its edges (Adya's
//! item-level phenomena, with Elle's names):
//!
//! | class | edges of the cycle |
//! |---|---|
//! | `G0` | ww only |
//! | `G1c` | ww and wr, at least one wr |
//! | `G-single-item` | exactly one rw |
//! | `G-nonadjacent-item` | two or more rw, no two adjacent (also across the wrap-around) |
//! | `G2-item` | two or more rw |
//!
//! A cycle that needs process edges to close is the `-process` variant, one that needs
//! real-time edges the `-realtime` variant. Each class is looked for with data edges only, then
//! with process edges added, then with real-time edges added; a class found at one tier is not
//! looked for again at a weaker one. A class is not looked for once a narrower class whose
//! cycles it includes was found in the SCC (G1c after G0, G-nonadjacent after G-single, G2-item
//! after either): the narrower cycle is already its shortest witness.
//!
//! The search for one class is a breadth-first search from each start node over (node, state)
//! pairs, restricted to the SCC, where the state tracks what the class needs (how many rw edges,
//! whether the last one was rw). Cycles with rw edges are rotated to start with an rw edge, G1c
//! with a wr edge, which keeps the states to at most four per node. Once a cycle of length L is
//! known, later searches stop at depth L - 1, so the result is the shortest over the starts
//! tried. The starts tried are bounded by a work cap and by the per-SCC time budget; before any
//! class search, one unrestricted BFS finds some cycle, so a non-trivial SCC is always reported
//! unless the budget ran out before even that.

use super::graph::{DepGraph, Label};
use petgraph::algo::tarjan_scc;
use rayon::prelude::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Edge relaxations allowed for one class search in one SCC.
const WORK_CAP: u64 = 2_000_000;

/// An anomaly class of a cycle, before its process/real-time variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    G0,
    G1c,
    GSingle,
    GNonadjacent,
    G2Item,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::G0,
        Class::G1c,
        Class::GSingle,
        Class::GNonadjacent,
        Class::G2Item,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::G0 => "G0",
            Class::G1c => "G1c",
            Class::GSingle => "G-single-item",
            Class::GNonadjacent => "G-nonadjacent-item",
            Class::G2Item => "G2-item",
        }
    }

    /// Narrower classes whose cycles are also cycles of this one (Adya: a ww cycle is a G1c
    /// cycle; a single rw edge is trivially non-adjacent; G2-item is any cycle with rw edges).
    /// When one of them was found in an SCC, the shortest cycle of this class is that one, so
    /// this class is not reported again (adya, the peer checker, does the same).
    fn subsumed_by(self) -> &'static [Class] {
        match self {
            Class::G0 | Class::GSingle => &[],
            Class::G1c => &[Class::G0],
            Class::GNonadjacent => &[Class::GSingle],
            Class::G2Item => &[Class::GSingle, Class::GNonadjacent],
        }
    }

    /// The data labels a cycle of this class may use.
    fn data_allowed(self) -> u8 {
        match self {
            Class::G0 => Label::WW,
            Class::G1c => Label::WW | Label::WR,
            _ => Label::DATA,
        }
    }
}

/// One edge of a cycle: `from` < `to` because of `label` (a single bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub from: u32,
    pub to: u32,
    pub label: u8,
}

/// A cycle found in an SCC.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub class: Class,
    pub steps: Vec<Step>,
    /// Number of the SCC (in the order of the search) and its size.
    pub scc: usize,
    pub scc_size: usize,
}

impl Cycle {
    /// Elle's name, with `-process` / `-realtime` when such edges close the cycle.
    pub fn kind(&self) -> String {
        let labels = self.steps.iter().fold(0, |a, s| a | s.label);
        let suffix = if labels & Label::REALTIME != 0 {
            "-realtime"
        } else if labels & Label::PROCESS != 0 {
            "-process"
        } else {
            ""
        };
        format!("{}{suffix}", self.class.name())
    }
}

/// What the search found.
#[derive(Debug, Default)]
pub struct SearchOutcome {
    pub cycles: Vec<Cycle>,
    /// Sizes of the non-trivial SCCs.
    pub scc_sizes: Vec<usize>,
    /// SCCs (number, size, a member) whose time budget ran out before any cycle was found.
    pub exhausted: Vec<(usize, usize, u32)>,
    /// Class searches stopped by the work cap or the budget after something was found.
    pub cut_short: usize,
    /// The SCC computation could not run (its thread failed to start): nothing is known.
    pub scc_failed: bool,
}

/// The order in which a checker explains a step that several data dependencies support
/// (Elle's explainer order): list-append says ww before wr, rw-register wr before ww.
pub const LIST_APPEND_EXPLAINS: [u8; 3] = [Label::WW, Label::WR, Label::RW];
pub const RW_REGISTER_EXPLAINS: [u8; 3] = [Label::WR, Label::WW, Label::RW];

/// Finds the non-trivial SCCs of `g` and the shortest cycle of each class in each, steps
/// explained in list-append's order.
pub fn search(g: &DepGraph, budget: Duration) -> SearchOutcome {
    search_explained(g, budget, LIST_APPEND_EXPLAINS)
}

/// [`search`], steps explained in `explains` order. A G0 or G1c cycle is named by its steps
/// as explained (Elle's untyped specs): a ww step that is also a wr dependency, explained as
/// wr, makes a G0 search's cycle a G1c.
pub fn search_explained(g: &DepGraph, budget: Duration, explains: [u8; 3]) -> SearchOutcome {
    let Some(mut sccs) = nontrivial_sccs(g) else {
        return SearchOutcome {
            scc_failed: true,
            ..SearchOutcome::default()
        };
    };
    for c in &mut sccs {
        c.sort_unstable();
    }
    sccs.sort_unstable_by_key(|c| c[0]);
    let n = g.node_count();
    let mut local = vec![u32::MAX; n];
    let mut scc_of = vec![u32::MAX; n];
    for (i, c) in sccs.iter().enumerate() {
        for (j, &v) in c.iter().enumerate() {
            local[v as usize] = j as u32;
            scc_of[v as usize] = i as u32;
        }
    }
    let ctx = Ctx {
        g,
        local: &local,
        scc_of: &scc_of,
        explains,
    };
    let results: Vec<(Vec<Cycle>, bool, usize)> = sccs
        .par_iter()
        .enumerate()
        .map(|(i, nodes)| search_scc(&ctx, i, nodes, budget))
        .collect();
    let mut out = SearchOutcome {
        scc_sizes: sccs.iter().map(Vec::len).collect(),
        ..SearchOutcome::default()
    };
    for (i, (cycles, exhausted, cut)) in results.into_iter().enumerate() {
        if exhausted {
            out.exhausted.push((i, sccs[i].len(), sccs[i][0]));
        }
        out.cut_short += cut;
        out.cycles.extend(cycles);
    }
    out
}

/// petgraph's Tarjan, restricted to components of more than one transaction.
///
/// petgraph's `tarjan_scc` recurses once per node on a DFS path, and real-time edges chain a
/// whole history into one path, so it runs on a thread whose stack grows with the graph (only
/// the pages actually used are committed). `None` when that thread could not run: the caller
/// must then say `unknown`, never `true`.
fn nontrivial_sccs(g: &DepGraph) -> Option<Vec<Vec<u32>>> {
    let stack = 64 * 1024 * 1024 + g.node_count() * 256;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("txn-cycles-scc".into())
            .stack_size(stack)
            .spawn_scoped(scope, || {
                tarjan_scc(g)
                    .into_iter()
                    .filter(|c| c.len() > 1)
                    .collect::<Vec<_>>()
            })
            .ok()
            .and_then(|h| h.join().ok())
    })
}

struct Ctx<'a> {
    g: &'a DepGraph,
    local: &'a [u32],
    scc_of: &'a [u32],
    explains: [u8; 3],
}

impl Ctx<'_> {
    /// Relabels data steps by the explainer order and names the cycle by them.
    fn explained(&self, mut steps: Vec<Step>) -> (Class, Vec<Step>) {
        for step in &mut steps {
            if step.label & Label::DATA == 0 {
                continue;
            }
            let mask = self
                .g
                .neighbors_slice(step.from)
                .iter()
                .zip(self.g.edges_slice(step.from))
                .find(|(&to, _)| to == step.to)
                .map_or(step.label, |(_, &m)| m);
            if let Some(&l) = self.explains.iter().find(|&&l| mask & l != 0) {
                step.label = l;
            }
        }
        (classify(&steps), steps)
    }
}

/// Searches one SCC. Returns its cycles, whether the budget ran out before any was found, and
/// how many class searches were cut short.
fn search_scc(ctx: &Ctx, scc: usize, nodes: &[u32], budget: Duration) -> (Vec<Cycle>, bool, usize) {
    let deadline = Instant::now() + budget;
    let mut bfs = Bfs::new(ctx, scc, nodes, deadline);
    let mut found: Vec<Cycle> = Vec::new();
    let mut cut = 0;
    let any = match bfs.run(None, Label::DATA | Label::PROCESS | Label::REALTIME) {
        Some(steps) => steps,
        None => return (found, true, 0),
    };
    let tiers = [0, Label::PROCESS, Label::PROCESS | Label::REALTIME];
    for extra in tiers {
        for class in Class::ALL {
            let known = |c: Class| found.iter().any(|f| f.class == c);
            if known(class) || class.subsumed_by().iter().any(|&c| known(c)) {
                continue;
            }
            let steps = bfs.run(Some(class), class.data_allowed() | extra);
            if bfs.cut {
                cut += 1;
            }
            if let Some(steps) = steps {
                let (class, steps) = match class {
                    Class::G0 | Class::G1c => ctx.explained(steps),
                    typed => (typed, steps),
                };
                found.push(Cycle {
                    class,
                    steps,
                    scc,
                    scc_size: nodes.len(),
                });
            }
        }
    }
    if found.is_empty() {
        found.push(Cycle {
            class: classify(&any),
            steps: any,
            scc,
            scc_size: nodes.len(),
        });
    }
    (found, false, cut)
}

/// The class of a cycle from its labels.
pub fn classify(steps: &[Step]) -> Class {
    let rw: Vec<bool> = steps.iter().map(|s| s.label == Label::RW).collect();
    let count = rw.iter().filter(|&&r| r).count();
    let adjacent = (0..rw.len()).any(|i| rw[i] && rw[(i + 1) % rw.len()]);
    match count {
        0 if steps.iter().any(|s| s.label == Label::WR) => Class::G1c,
        0 => Class::G0,
        1 => Class::GSingle,
        _ if adjacent => Class::G2Item,
        _ => Class::GNonadjacent,
    }
}

/// Scratch space for the breadth-first searches of one SCC.
struct Bfs<'a> {
    ctx: &'a Ctx<'a>,
    scc: u32,
    nodes: &'a [u32],
    deadline: Instant,
    stamp: Vec<u32>,
    parent: Vec<(u32, u8)>,
    depth: Vec<u32>,
    epoch: u32,
    queue: VecDeque<u32>,
    /// Whether the last `run` stopped before trying every start.
    cut: bool,
}

/// Number of states per node (the most any class needs).
const STATES: usize = 4;
const NO_PARENT: u32 = u32::MAX;

impl<'a> Bfs<'a> {
    fn new(ctx: &'a Ctx<'a>, scc: usize, nodes: &'a [u32], deadline: Instant) -> Bfs<'a> {
        let size = nodes.len() * STATES;
        Bfs {
            ctx,
            scc: scc as u32,
            nodes,
            deadline,
            stamp: vec![0; size],
            parent: vec![(NO_PARENT, 0); size],
            depth: vec![0; size],
            epoch: 0,
            queue: VecDeque::new(),
            cut: false,
        }
    }

    /// The shortest cycle of `class` (any cycle when `None`) using only `allowed` labels.
    fn run(&mut self, class: Option<Class>, allowed: u8) -> Option<Vec<Step>> {
        self.cut = false;
        let mut best: Option<Vec<Step>> = None;
        let mut work = 0u64;
        for (i, &s) in self.nodes.iter().enumerate() {
            if work > WORK_CAP || (i % 16 == 0 && Instant::now() > self.deadline) {
                self.cut = true;
                break;
            }
            let limit = best.as_ref().map_or(u32::MAX, |b| b.len() as u32);
            if let Some(c) = self.search_from(s, class, allowed, limit, &mut work) {
                best = Some(c);
            }
            if class.is_none() && best.is_some() {
                break;
            }
            if best.as_ref().is_some_and(|b| b.len() == 2) {
                break;
            }
        }
        best
    }

    /// BFS from `s` for a cycle shorter than `limit`.
    fn search_from(
        &mut self,
        s: u32,
        class: Option<Class>,
        allowed: u8,
        limit: u32,
        work: &mut u64,
    ) -> Option<Vec<Step>> {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.epoch = 1;
        }
        self.queue.clear();
        let g = self.ctx.g;
        for (&v, &mask) in g.neighbors_slice(s).iter().zip(g.edges_slice(s)) {
            let Some(lv) = self.local_of(v) else { continue };
            if let Some((label, st)) = first_edge(class, effective(mask) & allowed) {
                self.visit(lv * STATES as u32 + st, NO_PARENT, label, 1);
            }
        }
        while let Some(idx) = self.queue.pop_front() {
            let d = self.depth[idx as usize];
            if d + 1 >= limit {
                break;
            }
            let u = self.nodes[(idx as usize) / STATES];
            let st = idx % STATES as u32;
            for (&w, &mask) in g.neighbors_slice(u).iter().zip(g.edges_slice(u)) {
                let Some(lw) = self.local_of(w) else { continue };
                *work += 1;
                for (label, is_rw) in transitions(effective(mask) & allowed) {
                    let Some(st2) = next_state(class, st, is_rw) else {
                        continue;
                    };
                    if w == s {
                        if accepts(class, st2, is_rw) {
                            return Some(self.path(s, idx, label));
                        }
                        continue;
                    }
                    let idx2 = lw * STATES as u32 + st2;
                    self.visit(idx2, idx, label, d + 1);
                }
            }
        }
        None
    }

    fn local_of(&self, v: u32) -> Option<u32> {
        (self.ctx.scc_of[v as usize] == self.scc).then(|| self.ctx.local[v as usize])
    }

    fn visit(&mut self, idx: u32, parent: u32, label: u8, depth: u32) {
        let i = idx as usize;
        if self.stamp[i] != self.epoch {
            self.stamp[i] = self.epoch;
            self.parent[i] = (parent, label);
            self.depth[i] = depth;
            self.queue.push_back(idx);
        }
    }

    /// The cycle s -> ... -> node(idx) -> s.
    fn path(&self, s: u32, idx: u32, last_label: u8) -> Vec<Step> {
        let mut rev = vec![Step {
            from: self.nodes[idx as usize / STATES],
            to: s,
            label: last_label,
        }];
        let mut cur = idx;
        loop {
            let node = self.nodes[cur as usize / STATES];
            let (p, label) = self.parent[cur as usize];
            let from = if p == NO_PARENT {
                s
            } else {
                self.nodes[p as usize / STATES]
            };
            rev.push(Step {
                from,
                to: node,
                label,
            });
            if p == NO_PARENT {
                break;
            }
            cur = p;
        }
        rev.reverse();
        rev
    }
}

/// The labels an edge may be taken as: its data dependencies when it has any, else its order
/// edges. A pair of transactions related by a dependency and by real time (or process) order
/// is related by the dependency: Elle explains every step of a cycle by its data dependency
/// first, so a cycle is never classified by an order edge that stands next to a data one.
fn effective(mask: u8) -> u8 {
    if mask & Label::DATA != 0 {
        mask & Label::DATA
    } else {
        mask
    }
}

/// The preferred non-rw label of a mask: data first, then process, then real time.
fn neutral(mask: u8) -> Option<u8> {
    [Label::WR, Label::WW, Label::PROCESS, Label::REALTIME]
        .into_iter()
        .find(|&l| mask & l != 0)
}

/// The ways an edge can be taken: as its neutral label and/or as rw.
fn transitions(mask: u8) -> impl Iterator<Item = (u8, bool)> {
    let n = neutral(mask).map(|l| (l, false));
    let r = (mask & Label::RW != 0).then_some((Label::RW, true));
    n.into_iter().chain(r)
}

/// The label and state of a cycle's first edge, for classes rotated to start a certain way.
fn first_edge(class: Option<Class>, mask: u8) -> Option<(u8, u32)> {
    match class {
        None | Some(Class::G0) => neutral(mask).or((mask & Label::RW != 0).then_some(Label::RW)),
        Some(Class::G1c) => (mask & Label::WR != 0).then_some(Label::WR),
        Some(_) => (mask & Label::RW != 0).then_some(Label::RW),
    }
    .map(|l| {
        // G-nonadjacent: bit 0 = last edge was rw, bit 1 = two or more rw seen.
        let st = u32::from(class == Some(Class::GNonadjacent));
        (l, st)
    })
}

/// The state after taking an edge, or `None` when the class forbids it.
fn next_state(class: Option<Class>, st: u32, is_rw: bool) -> Option<u32> {
    match class {
        None => Some(0),
        Some(Class::G0) | Some(Class::G1c) | Some(Class::GSingle) => (!is_rw).then_some(0),
        Some(Class::G2Item) => Some(if is_rw { 1 } else { st }),
        Some(Class::GNonadjacent) => match (is_rw, st & 1 == 1) {
            (true, true) => None,
            (true, false) => Some(3),
            (false, _) => Some(st & 2),
        },
    }
}

/// Whether arriving back at the start in state `st` (via an rw edge or not) closes a cycle of
/// the class.
fn accepts(class: Option<Class>, st: u32, via_rw: bool) -> bool {
    match class {
        Some(Class::G2Item) => st == 1,
        // The first edge was rw, so the closing edge must not be.
        Some(Class::GNonadjacent) => !via_rw && st & 2 != 0,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(labels: &[u8]) -> Vec<Step> {
        let n = labels.len() as u32;
        labels
            .iter()
            .enumerate()
            .map(|(i, &label)| Step {
                from: i as u32,
                to: (i as u32 + 1) % n,
                label,
            })
            .collect()
    }

    #[test]
    fn classify_follows_the_rw_edges() {
        use Label as L;
        assert_eq!(classify(&cycle(&[L::WW, L::WW])), Class::G0);
        assert_eq!(classify(&cycle(&[L::WW, L::WR])), Class::G1c);
        assert_eq!(classify(&cycle(&[L::RW, L::WR])), Class::GSingle);
        assert_eq!(
            classify(&cycle(&[L::RW, L::WR, L::RW, L::WW])),
            Class::GNonadjacent
        );
        assert_eq!(classify(&cycle(&[L::RW, L::RW, L::WR])), Class::G2Item);
        // Adjacent across the wrap-around.
        assert_eq!(classify(&cycle(&[L::RW, L::WR, L::RW])), Class::G2Item);
    }

    #[test]
    fn nonadjacent_states_reject_adjacent_rw() {
        let c = Some(Class::GNonadjacent);
        let (_, st) = first_edge(c, Label::RW).unwrap();
        assert_eq!(next_state(c, st, true), None);
        let st = next_state(c, st, false).unwrap();
        let st = next_state(c, st, true).unwrap();
        assert!(!accepts(c, st, true));
        let st = next_state(c, st, false).unwrap();
        assert!(accepts(c, st, false));
    }

    #[test]
    fn variant_names_come_from_the_edges_used() {
        let mut c = Cycle {
            class: Class::GSingle,
            steps: cycle(&[Label::RW, Label::PROCESS]),
            scc: 0,
            scc_size: 2,
        };
        assert_eq!(c.kind(), "G-single-item-process");
        c.steps = cycle(&[Label::RW, Label::REALTIME]);
        assert_eq!(c.kind(), "G-single-item-realtime");
    }
}
