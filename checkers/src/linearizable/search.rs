//! Wing & Gong's linearizability search with Lowe's memoisation, in Porcupine's shape.
//!
//! The search walks the event list of [`super::events`]: the ops that may take effect next are
//! the calls before the first return left in the list. It takes one (a *step*), lifts its
//! events, and carries on from the new configuration; when no step of a configuration leads to
//! a complete linearization, it backtracks. Every configuration it reaches is cached as a
//! frontier ([`super::frontier`]), so none is explored twice, and a frontier's size is bounded
//! by what is open at that point, not by the key's history. Which steps a configuration offers,
//! and in which order they are tried, is [`super::steps`]'s business.
//!
//! The search path is a stack of *levels*, one per configuration on it: the step being tried
//! from that configuration, the steps left to try, and the state to restore when backtracking
//! into it. Its depth is the number of determinate ops linearized.
//!
//! To prove a key not linearizable the search must exhaust every configuration before the op it
//! is stuck at. When it backtracks for a while without getting further, it asks
//! [`super::window`] whether a window of ops before that op can be linearized from any state at
//! all; if not, the key is not linearizable and the search stops there.

use super::bitset::Bitset;
pub use super::budget::Budget;
use super::cache::Cache;
use super::events::{Events, HEAD, NIL};
use super::frontier::{self, Frontier};
use super::key_history::KeyOp;
use super::model::{Model, RegisterInput, Value, UNMENTIONED};
use super::relevance::{self, Relevance};
use super::steps;
use std::collections::{BTreeSet, HashMap};

/// One op of a linearization and the state it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Position in the key's op list.
    pub op: u32,
    pub state: Value,
}

/// What the search concluded for one key.
#[derive(Debug, Clone)]
pub enum Outcome {
    Linearizable,
    /// No linearization exists.
    Violation,
    /// The budget ran out first.
    Unknown {
        reason: String,
    },
}

/// The outcome, and how far and how big the search got.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    /// Configurations cached.
    pub states: usize,
    /// The longest linearizable prefix found (most determinate ops), in order: a whole
    /// linearization when there is one.
    pub prefix: Vec<Step>,
    /// Determinate ops in `prefix`.
    pub prefix_ops: usize,
    /// Peak bytes of search state: cache, stack, event list.
    pub peak_bytes: usize,
    /// When a window ([`super::window`]) proved the violation: how many return positions
    /// before the stuck op it spanned.
    pub window: Option<u32>,
}

/// One configuration on the search path (see the module doc).
#[derive(Debug, Clone, Copy)]
pub(super) struct Level {
    /// The call node tried first (NIL: none), and whether it is the only one worth trying.
    pub first: u32,
    pub forced: bool,
    /// The call node whose choices are being tried (NIL: none yet), and whether it was reached
    /// by scanning the list (after `first`).
    pub at: u32,
    pub scanning: bool,
    /// Its choices are `ends[choices..]` (choice c's steps are `steps[ends[c - 1]..ends[c]]`,
    /// from 0 for the very first); the one applied, if any, is `next_choice - 1`.
    pub choices: u32,
    pub next_choice: u32,
    /// The configuration's state and `top`, restored when a step from it is undone.
    pub state: Value,
    pub top: u32,
}

/// Why the search stopped without a verdict.
pub(super) type Stop = &'static str;

/// What a key's search builds before it starts: the event list, the relevance bounds, the
/// value clusters, and its stacks, sized once. Building it is separate so that the caller can
/// do it on the thread whose allocator holds memory to reuse (see `linearizable::check_keys`).
pub struct Prepared {
    ev: Events,
    rel: Relevance,
    producers: HashMap<Value, Vec<u32>>,
    cluster_end: Vec<u32>,
    levels: Vec<Level>,
    ends: Vec<u32>,
    steps: Vec<Step>,
    path: Vec<Step>,
    best: Vec<Step>,
}

impl Prepared {
    /// Prepares the search of `ops`.
    pub fn new(ops: &[KeyOp]) -> Prepared {
        let ev = Events::new(ops);
        let rel = Relevance::new(ops, &ev);
        let mut producers: HashMap<Value, Vec<u32>> = HashMap::new();
        for &p in &ev.info {
            if let Some(v) = ops[p as usize].input.written() {
                producers.entry(v).or_default().push(p);
            }
        }
        let positions = ev.positions();
        let cluster_end = steps::cluster_ends(ops, &ev);
        Prepared {
            ev,
            rel,
            producers,
            cluster_end,
            // One level per determinate op at most, one step per op: sized once, not doubled.
            levels: Vec::with_capacity(positions + 1),
            ends: Vec::with_capacity(positions + 1),
            steps: Vec::with_capacity(positions + 1),
            path: Vec::with_capacity(ops.len()),
            best: Vec::with_capacity(ops.len()),
        }
    }
}

/// Checks one key's ops against `model`.
pub fn search<M>(model: &M, ops: &[KeyOp], budget: &Budget) -> Report
where
    M: Model<State = Value, Input = RegisterInput>,
{
    search_prepared(model, ops, Prepared::new(ops), budget)
}

/// [`search`], with what [`Prepared::new`] built for `ops`.
pub fn search_prepared<M>(model: &M, ops: &[KeyOp], prepared: Prepared, budget: &Budget) -> Report
where
    M: Model<State = Value, Input = RegisterInput>,
{
    let mut s = Search::new(model, ops, prepared, budget);
    s.refute = true;
    let start = model.init();
    let outcome = s.run(&[start]);
    let _ = s.account();
    budget.release(s.charged);
    Report {
        outcome,
        states: s.cache.len(),
        prefix: s.best,
        prefix_ops: s.best_det,
        peak_bytes: s.peak_bytes,
        window: s.refuted.then_some(s.refuted_span),
    }
}

pub(super) struct Search<'a, M> {
    pub model: &'a M,
    pub ops: &'a [KeyOp],
    budget: &'a Budget,
    pub ev: Events,
    /// Until when info ops and values matter.
    pub rel: Relevance,
    /// Info ops by the value they write.
    pub producers: HashMap<Value, Vec<u32>>,
    /// Per determinate op that writes: the last invocation of its value's cluster ([`super::steps`]).
    pub cluster_end: Vec<u32>,
    /// Every linearized op, by op index.
    pub linearized: Bitset,
    /// Linearized determinate ops, by return position.
    by_pos: Bitset,
    /// One past the highest linearized return position (0: none).
    top: u32,
    /// Linearized info ops as (`by_value`, op), how many of them are writes, and a buffer for
    /// the ones a frontier lists.
    live: BTreeSet<(i32, u32)>,
    writes_linearized: usize,
    listed: Vec<u32>,
    pub state: Value,
    pending: usize,
    levels: Vec<Level>,
    pub ends: Vec<u32>,
    pub steps: Vec<Step>,
    path: Vec<Step>,
    best: Vec<Step>,
    best_det: usize,
    common: usize,
    cache: Cache,
    frontier: Frontier,
    charged: usize,
    peak_bytes: usize,
    pub chains_capped: bool,
    /// Return positions that must be passed: `0..goal` (all of them for a whole check).
    goal: u32,
    /// Whether a configuration past the goal was reached.
    reached: bool,
    /// The first open return position of the configuration last remembered, and of the best.
    last_j: u32,
    best_j: u32,
    /// Whether to try [`super::window`] refutations, how many levels were undone since the best
    /// configuration last improved, and after how many undone levels to try the next window, of
    /// how many positions.
    refute: bool,
    refuted: bool,
    refuted_span: u32,
    stalls: u64,
    next_check: u64,
    span: u32,
    /// Determinate ops open across FIRST_SPAN return positions or more, once a window needs
    /// them.
    long: Option<Vec<u32>>,
}

/// Undone levels without progress before the first window refutation, and its span in
/// return positions; both grow fourfold after each window that refutes nothing.
const FIRST_CHECK: u64 = 2048;
const FIRST_SPAN: u32 = 256;

/// Whether `ops` can be linearized, from one of the `starts` states, up to a configuration that
/// has linearized every determinate op with a return position below `goal`.
pub(super) fn reaches<M>(
    model: &M,
    ops: &[KeyOp],
    budget: &Budget,
    goal: u32,
    starts: &[Value],
) -> Outcome
where
    M: Model<State = Value, Input = RegisterInput>,
{
    let mut s = Search::new(model, ops, Prepared::new(ops), budget);
    s.goal = goal;
    let outcome = s.run(starts);
    budget.release(s.charged);
    outcome
}

impl<'a, M> Search<'a, M>
where
    M: Model<State = Value, Input = RegisterInput>,
{
    fn new(model: &'a M, ops: &'a [KeyOp], prepared: Prepared, budget: &'a Budget) -> Self {
        let positions = prepared.ev.positions();
        Search {
            model,
            ops,
            budget,
            ev: prepared.ev,
            rel: prepared.rel,
            producers: prepared.producers,
            cluster_end: prepared.cluster_end,
            linearized: Bitset::new(ops.len()),
            by_pos: Bitset::new(positions),
            top: 0,
            live: BTreeSet::new(),
            writes_linearized: 0,
            listed: Vec::new(),
            state: model.init(),
            pending: positions,
            levels: prepared.levels,
            ends: prepared.ends,
            steps: prepared.steps,
            path: prepared.path,
            best: prepared.best,
            best_det: 0,
            common: 0,
            cache: Cache::default(),
            frontier: Frontier::default(),
            charged: 0,
            peak_bytes: 0,
            chains_capped: false,
            goal: positions as u32,
            reached: false,
            last_j: 0,
            best_j: 0,
            refute: false,
            refuted: false,
            refuted_span: 0,
            stalls: 0,
            next_check: FIRST_CHECK,
            span: FIRST_SPAN,
            long: None,
        }
    }

    /// Searches from each start state in turn; the cache carries over, as a configuration's
    /// continuations do not depend on how it was reached.
    fn run(&mut self, starts: &[Value]) -> Outcome {
        if !relevance::fits(&self.ev) {
            return unknown("it has more determinate ops than the search can number");
        }
        for &start in starts {
            self.state = start;
            match self.descend() {
                Outcome::Violation if !self.refuted => {}
                decided => return decided,
            }
        }
        if self.chains_capped {
            return unknown("too many ways to order its indeterminate ops");
        }
        Outcome::Violation
    }

    /// Depth-first search from the current state with nothing linearized.
    fn descend(&mut self) -> Outcome {
        if self.goal == 0 {
            return Outcome::Linearizable;
        }
        self.open();
        let mut iterations: u64 = 0;
        loop {
            if self.pending == 0 || self.reached {
                return Outcome::Linearizable;
            }
            iterations += 1;
            if iterations & 1023 == 0 {
                if self.budget.out_of_time() {
                    return unknown("the time budget ran out");
                }
                if let Err(stop) = self.account() {
                    return unknown(stop);
                }
            }
            match self.step_from_top() {
                Ok(true) => self.open(),
                Ok(false) => {
                    // No step from this configuration completes: undo the one that led here.
                    if let Some(done) = self.levels.pop() {
                        self.ends.truncate(done.choices as usize);
                        self.steps.truncate(self.steps_at(&done));
                    }
                    let Some(&parent) = self.levels.last() else {
                        return Outcome::Violation;
                    };
                    let (from, to) = self.choice_range(&parent, parent.next_choice - 1);
                    self.revert(from, to, &parent);
                    if self.stalled() {
                        return Outcome::Violation;
                    }
                }
                Err(stop) => return unknown(stop),
            }
        }
    }

    /// Counts an undone level; true when a window refutation proves the key not linearizable.
    fn stalled(&mut self) -> bool {
        self.stalls += 1;
        if !self.refute || self.stalls < self.next_check {
            return false;
        }
        let ev = &self.ev;
        let long = self.long.get_or_insert_with(|| {
            // Determinate ops open across FIRST_SPAN return positions or more.
            (0..ev.op.len())
                .filter(|&n| !ev.is_call[n])
                .map(|n| ev.op[n])
                .filter(|&op| ev.pos[op as usize] - ev.called_at[op as usize] >= FIRST_SPAN)
                .collect()
        });
        let refuted = super::window::refutes(
            self.model,
            self.ops,
            ev,
            long,
            &self.rel.useful,
            self.best_j,
            self.span,
            self.budget,
        );
        self.refuted = refuted;
        self.refuted_span = self.span.min(self.best_j + 1);
        self.next_check = self.next_check.saturating_mul(4);
        self.span = self.span.saturating_mul(4);
        refuted
    }

    /// Pushes a level for the configuration just reached.
    fn open(&mut self) {
        let (first, forced) = self.first_step();
        self.levels.push(Level {
            first,
            forced,
            at: NIL,
            scanning: false,
            choices: self.ends.len() as u32,
            next_choice: 0,
            state: self.state,
            top: self.top,
        });
    }

    /// Applies the top level's next choice whose configuration is new; false when none is left.
    fn step_from_top(&mut self) -> Result<bool, Stop> {
        let Some(mut level) = self.levels.last().copied() else {
            return Ok(false);
        };
        let taken = self.take_choice(&mut level);
        if let Some(top) = self.levels.last_mut() {
            *top = level;
        }
        taken
    }

    fn take_choice(&mut self, level: &mut Level) -> Result<bool, Stop> {
        loop {
            if level.at != NIL {
                let count = self.ends.len() as u32 - level.choices;
                while level.next_choice < count {
                    let (from, to) = self.choice_range(level, level.next_choice);
                    level.next_choice += 1;
                    self.apply(from, to);
                    if self.remember()? {
                        self.record_best();
                        return Ok(true);
                    }
                    self.revert(from, to, level);
                }
                self.ends.truncate(level.choices as usize);
                self.steps.truncate(self.steps_at(level));
            }
            let Some((node, scanning)) = self.next_candidate(level) else {
                return Ok(false);
            };
            level.at = node;
            level.scanning = scanning;
            level.next_choice = 0;
            self.push_choices(node);
        }
    }

    /// Where `level`'s steps start: after the previous level's choices, whose steps end where
    /// its last choice ends.
    fn steps_at(&self, level: &Level) -> usize {
        match level.choices.checked_sub(1) {
            Some(last) => self.ends[last as usize] as usize,
            None => 0,
        }
    }

    /// Steps `from..to` of choice `c` of `level`.
    fn choice_range(&self, level: &Level, c: u32) -> (usize, usize) {
        let i = (level.choices + c) as usize;
        let from = if c == 0 {
            self.steps_at(level)
        } else {
            self.ends[i - 1] as usize
        };
        (from, self.ends[i] as usize)
    }

    fn apply(&mut self, from: usize, to: usize) {
        for i in from..to {
            let st = self.steps[i];
            let op = st.op as usize;
            self.linearized.set(op);
            let node = self.ev.call_node[op];
            if node == NIL {
                self.live.insert((self.rel.by_value[op], st.op));
                self.writes_linearized += usize::from(self.ops[op].input.written_blindly());
            } else {
                let pos = self.ev.pos[op];
                self.by_pos.set(pos as usize);
                self.top = self.top.max(pos + 1);
                self.ev.remove(node);
                self.ev.remove(self.ev.ret_node[op]);
            }
            self.path.push(st);
            self.state = st.state;
        }
        self.pending -= 1;
    }

    fn revert(&mut self, from: usize, to: usize, level: &Level) {
        for i in (from..to).rev() {
            let op = self.steps[i].op as usize;
            self.linearized.clear(op);
            let node = self.ev.call_node[op];
            if node == NIL {
                self.live.remove(&(self.rel.by_value[op], op as u32));
                self.writes_linearized -= usize::from(self.ops[op].input.written_blindly());
            } else {
                self.by_pos.clear(self.ev.pos[op] as usize);
                self.ev.restore(self.ev.ret_node[op]);
                self.ev.restore(node);
            }
            self.path.pop();
        }
        self.common = self.common.min(self.path.len());
        self.state = level.state;
        self.top = level.top;
        self.pending += 1;
    }

    /// Inserts the current configuration into the cache; false when it was already there.
    fn remember(&mut self) -> Result<bool, Stop> {
        let first = self.ev.first_return_from(self.ev.next[HEAD as usize]);
        if first == NIL {
            return Ok(true); // everything determinate is linearized: nothing left to cache
        }
        let j = self.ev.pos[self.ev.op[first as usize] as usize];
        self.last_j = j;
        if j >= self.goal {
            self.reached = true;
            return Ok(true);
        }
        // Listed: the linearized info ops that are not generic (nor dead). Generic: the other
        // linearized info writes while a mismatch is left (until then every info write is
        // live, relevance.rs); after the last one they are dead.
        self.listed.clear();
        let mut listed_writes = 0;
        for &(_, op) in self.live.range((j as i32, 0)..) {
            if self.rel.useful[op as usize] >= j as i32 {
                self.listed.push(op);
                listed_writes += usize::from(self.ops[op as usize].input.written_blindly());
            }
        }
        let generic = if j as i32 <= self.rel.last_mismatch {
            self.writes_linearized - listed_writes
        } else {
            0
        };
        let state = if self.rel.mentioned(self.state, j) {
            self.state
        } else {
            UNMENTIONED
        };
        let key = self
            .frontier
            .encode(j, state, &self.by_pos, self.top, &self.listed, generic);
        match self.cache.insert(frontier::hash(key), key) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(_) => return Err("the memory budget ran out"),
        }
        if self.cache.len() % 4096 == 1 {
            self.account()?;
        }
        Ok(true)
    }

    /// Charges the budget for what the search holds now; Err when it is over.
    fn account(&mut self) -> Result<(), Stop> {
        let bytes = self.cache.bytes()
            + self.ev.bytes()
            + self.levels.capacity() * std::mem::size_of::<Level>()
            + (self.steps.capacity() + self.path.capacity() + self.best.capacity())
                * std::mem::size_of::<Step>()
            + self.ends.capacity() * 4
            + self.linearized.bytes()
            + self.by_pos.bytes()
            + self.rel.bytes();
        self.peak_bytes = self.peak_bytes.max(bytes);
        if bytes > self.charged {
            let more = bytes - self.charged;
            self.charged = bytes;
            if !self.budget.charge(more) {
                return Err("the memory budget ran out");
            }
        }
        Ok(())
    }

    fn record_best(&mut self) {
        let det = self.ev.positions() - self.pending;
        if det > self.best_det {
            self.best_j = self.last_j;
            self.stalls = 0;
            self.next_check = FIRST_CHECK;
            self.span = FIRST_SPAN;
            self.best.truncate(self.common);
            self.best.extend_from_slice(&self.path[self.common..]);
            self.common = self.path.len();
            self.best_det = det;
        }
    }
}

fn unknown(reason: &str) -> Outcome {
    Outcome::Unknown {
        reason: reason.to_string(),
    }
}
