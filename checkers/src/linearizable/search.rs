//! Wing & Gong's linearizability search with Lowe's memoisation, in Porcupine's shape.
//!
//! The sub-history of one key is a list of call and return events sorted by time; at equal times
//! calls come first, so intervals are closed (an op that returns at t is concurrent with one
//! invoked at t, DESIGN.md section 3). The events sit in a doubly linked list; linearizing an
//! op *lifts* its call and return out of the list and backtracking *unlifts* them (dancing
//! links). The ops that may take effect next are the calls before the first remaining return.
//! Every (linearized set, state) configuration is cached, so none is explored twice.
//!
//! Indeterminate (`info`) ops have a call and no return: they may take effect at any point after
//! their invocation, or never. The classic blow-up is that plain WGL linearizes them eagerly, so
//! k concurrent info writes give 2^k linearized subsets. Here an info op is never a step of its
//! own: it is linearized only as part of a *compound step*, as a short chain immediately before a
//! determinate op `d` that is illegal without it (a read of v preceded by the info write of v).
//! This loses no linearization: take any linearization with the fewest info ops, placed as late
//! as possible. A run of info ops at its end can be dropped (fewer info ops). A run R before `d`
//! that `d` does not need is either useless (`d` is a write, or R returns the state it started
//! from: drop it) or can move after `d` (`d` reads: it sees the state before R, and R is open
//! forever so moving it later breaks no real-time order). So every run precedes a `d` that is
//! illegal before it, and a minimal run is a production chain: for a read or cas of v, an op
//! writing v (a write, or a cas from u preceded by a production of u); for a mismatch cas on v,
//! one op that makes the register differ from v. `choices` enumerates exactly these.

use super::bitset::Bitset;
use super::key_history::KeyOp;
use super::model::{Model, RegisterInput, Value};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const NIL: u32 = u32::MAX;
/// Production chains per step beyond which the search gives up as `unknown` (never reached by
/// histories with unique values; a guard against adversarial input).
const MAX_CHAINS: usize = 4096;

/// The shared wall-clock and memory budget of one `check` call, across all keys and threads.
#[derive(Debug)]
pub struct Budget {
    deadline: Option<Instant>,
    memory_limit: usize,
    memory_used: AtomicUsize,
}

impl Budget {
    /// A budget of `time` from now and `memory` bytes of cache.
    pub fn new(time: Duration, memory: usize) -> Budget {
        Budget {
            deadline: Instant::now().checked_add(time),
            memory_limit: memory,
            memory_used: AtomicUsize::new(0),
        }
    }

    fn charge(&self, bytes: usize) -> bool {
        self.memory_used.fetch_add(bytes, Ordering::Relaxed) + bytes <= self.memory_limit
    }

    fn release(&self, bytes: usize) {
        self.memory_used.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// One op of a linearization and the state it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Position in the key's op list.
    pub op: usize,
    pub state: Value,
}

/// What the search concluded for one key.
#[derive(Debug, Clone)]
pub enum Outcome {
    Linearizable,
    /// No linearization exists; `prefix` is the longest linearizable prefix found (most
    /// determinate ops), in order.
    Violation {
        prefix: Vec<Step>,
    },
    /// The budget ran out first.
    Unknown {
        reason: String,
    },
}

/// The outcome and how many configurations the search cached.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    pub states: usize,
}

/// Identity hasher: cache keys are already well-mixed Zobrist hashes.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Lowe's cache of (linearized set, state) configurations, in flat arenas: a configuration
/// costs no allocation of its own (a map of buckets of boxed bitsets spent a third of the time
/// of a 1,000,000-op check in malloc and free). Configurations with equal combined hashes are
/// chained through `next`; equality compares the state and every word, so a collision cannot
/// merge two configurations.
#[derive(Default)]
struct Cache {
    /// Combined hash -> the newest configuration with that hash.
    head: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    /// The previous configuration with the same hash, or NIL.
    next: Vec<u32>,
    states: Vec<Value>,
    /// Configuration i's bitset words are `words[i * width..(i + 1) * width]`.
    words: Vec<u64>,
}

impl Cache {
    /// Inserts a configuration; false when it was already there.
    fn insert(&mut self, hash: u64, state: Value, words: &[u64]) -> bool {
        let width = words.len();
        let first = self.head.get(&hash).copied().unwrap_or(NIL);
        let mut e = first;
        while e != NIL {
            let i = e as usize;
            if self.states[i] == state && self.words[i * width..(i + 1) * width] == *words {
                return false;
            }
            e = self.next[i];
        }
        self.head.insert(hash, self.states.len() as u32);
        self.next.push(first);
        self.states.push(state);
        self.words.extend_from_slice(words);
        true
    }
}

/// A way to take the next step: info ops to linearize first, then the determinate op. Most
/// steps are a lone determinate op, kept inline (no allocation on the hot path).
enum Choice {
    Direct(Step),
    Chain(Vec<Step>),
}

impl Choice {
    fn steps(&self) -> &[Step] {
        match self {
            Choice::Direct(step) => std::slice::from_ref(step),
            Choice::Chain(steps) => steps,
        }
    }
}

struct Frame {
    entry: u32,
    choices: Vec<Choice>,
    next_choice: usize,
    prev_state: Value,
    path_len: usize,
}

/// Checks one key's ops against `model`.
pub fn search<M>(model: &M, ops: &[KeyOp], budget: &Budget) -> Report
where
    M: Model<State = Value, Input = RegisterInput>,
{
    let mut s = Search::new(model, ops, budget);
    let outcome = s.run();
    budget.release(s.charged);
    Report {
        outcome,
        states: s.cache_entries,
    }
}

struct Search<'a, M> {
    model: &'a M,
    ops: &'a [KeyOp],
    budget: &'a Budget,
    // Event list: index 0 is the head sentinel, events 1.. in time order (index = rank).
    ev_op: Vec<u32>,
    ev_call: Vec<bool>,
    next: Vec<u32>,
    prev: Vec<u32>,
    call_ev: Vec<u32>,
    ret_ev: Vec<u32>,
    /// Info ops by the value they write.
    producers: HashMap<Value, Vec<u32>>,
    /// Info ops in call order.
    info_ops: Vec<u32>,
    linearized: Bitset,
    state: Value,
    pending: usize,
    stack: Vec<Frame>,
    path: Vec<Step>,
    best: Vec<Step>,
    best_det: usize,
    common: usize,
    det_count: usize,
    cache: Cache,
    cache_entries: usize,
    charged: usize,
    chains_capped: bool,
}

impl<'a, M> Search<'a, M>
where
    M: Model<State = Value, Input = RegisterInput>,
{
    fn new(model: &'a M, ops: &'a [KeyOp], budget: &'a Budget) -> Self {
        // Calls before returns at equal times: closed intervals.
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.start, false, i as u32));
            if let Some(end) = op.end {
                events.push((end, true, i as u32));
            }
        }
        events.sort_unstable();
        let n = events.len();
        let mut s = Search {
            model,
            ops,
            budget,
            ev_op: vec![NIL; n + 1],
            ev_call: vec![true; n + 1],
            next: (1..=n as u32 + 1)
                .map(|i| if i as usize > n { NIL } else { i })
                .collect(),
            prev: (0..=n as u32).map(|i| i.wrapping_sub(1)).collect(),
            call_ev: vec![NIL; ops.len()],
            ret_ev: vec![NIL; ops.len()],
            producers: HashMap::new(),
            info_ops: Vec::new(),
            linearized: Bitset::new(ops.len()),
            state: model.init(),
            pending: ops.iter().filter(|o| o.end.is_some()).count(),
            stack: Vec::new(),
            path: Vec::new(),
            best: Vec::new(),
            best_det: 0,
            common: 0,
            det_count: 0,
            cache: Cache::default(),
            cache_entries: 0,
            charged: 0,
            chains_capped: false,
        };
        for (rank, &(_, is_return, op)) in events.iter().enumerate() {
            let ev = rank + 1;
            s.ev_op[ev] = op;
            s.ev_call[ev] = !is_return;
            if is_return {
                s.ret_ev[op as usize] = ev as u32;
            } else {
                s.call_ev[op as usize] = ev as u32;
                if ops[op as usize].end.is_none() {
                    s.info_ops.push(op);
                    if let Some(v) = ops[op as usize].input.written() {
                        s.producers.entry(v).or_default().push(op);
                    }
                }
            }
        }
        s
    }

    fn run(&mut self) -> Outcome {
        let mut entry = self.next[0];
        let mut iterations: u64 = 0;
        loop {
            if self.pending == 0 {
                return Outcome::Linearizable;
            }
            iterations += 1;
            if iterations & 1023 == 0 && self.budget.out_of_time() {
                return self.unknown("the time budget ran out");
            }
            if entry == NIL || !self.ev_call[entry as usize] {
                // A return: its op had to be linearized by now. Backtrack.
                let Some(mut frame) = self.stack.pop() else {
                    if self.chains_capped {
                        return self.unknown("too many ways to order its indeterminate ops");
                    }
                    return Outcome::Violation {
                        prefix: std::mem::take(&mut self.best),
                    };
                };
                self.undo(&frame);
                let choices = std::mem::take(&mut frame.choices);
                entry = match self.try_choices(frame.entry, choices, frame.next_choice) {
                    Ok(true) => self.next[0],
                    Ok(false) => self.next[frame.entry as usize],
                    Err(reason) => return self.unknown(reason),
                };
                continue;
            }
            let op = self.ev_op[entry as usize] as usize;
            if self.ops[op].end.is_none() {
                // Info ops only take effect inside a compound step (module comment).
                entry = self.next[entry as usize];
                continue;
            }
            let choices = self.choices(entry, op);
            entry = match self.try_choices(entry, choices, 0) {
                Ok(true) => self.next[0],
                Ok(false) => self.next[entry as usize],
                Err(reason) => return self.unknown(reason),
            };
        }
    }

    fn unknown(&self, reason: &str) -> Outcome {
        Outcome::Unknown {
            reason: reason.to_string(),
        }
    }

    /// Tries `choices[from..]` at `entry`; takes the first whose configuration is new.
    fn try_choices(
        &mut self,
        entry: u32,
        choices: Vec<Choice>,
        from: usize,
    ) -> Result<bool, &'static str> {
        for i in from..choices.len() {
            for st in choices[i].steps() {
                self.linearized.set(st.op);
            }
            let Some(last) = choices[i].steps().last() else {
                continue;
            };
            let fresh = self.remember(last.state)?;
            if !fresh {
                for st in choices[i].steps() {
                    self.linearized.clear(st.op);
                }
                continue;
            }
            let frame = Frame {
                entry,
                choices: Vec::new(),
                next_choice: i + 1,
                prev_state: self.state,
                path_len: self.path.len(),
            };
            for st in choices[i].steps() {
                self.lift(st.op);
                self.path.push(*st);
            }
            self.state = last.state;
            self.pending -= 1;
            self.det_count += 1;
            if self.det_count > self.best_det {
                self.best.truncate(self.common);
                self.best.extend_from_slice(&self.path[self.common..]);
                self.common = self.path.len();
                self.best_det = self.det_count;
            }
            self.stack.push(Frame { choices, ..frame });
            return Ok(true);
        }
        Ok(false)
    }

    /// Inserts (linearized, state) into the cache; false when it was already there.
    fn remember(&mut self, state: Value) -> Result<bool, &'static str> {
        let key = self.linearized.hash() ^ (state as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if !self.cache.insert(key, state, self.linearized.words()) {
            return Ok(false);
        }
        self.cache_entries += 1;
        let bytes = self.linearized.snapshot_bytes() + 64;
        self.charged += bytes;
        if !self.budget.charge(bytes) {
            return Err("the memory budget ran out");
        }
        Ok(true)
    }

    fn undo(&mut self, frame: &Frame) {
        for st in self.path[frame.path_len..].iter().rev() {
            let op = st.op;
            // Unlift in reverse order of lifting: return first, then call.
            for ev in [self.ret_ev[op], self.call_ev[op]] {
                if ev != NIL {
                    let (p, n) = (self.prev[ev as usize], self.next[ev as usize]);
                    self.next[p as usize] = ev;
                    if n != NIL {
                        self.prev[n as usize] = ev;
                    }
                }
            }
            self.linearized.clear(op);
        }
        self.path.truncate(frame.path_len);
        self.common = self.common.min(self.path.len());
        self.state = frame.prev_state;
        self.pending += 1;
        self.det_count -= 1;
    }

    fn lift(&mut self, op: usize) {
        for ev in [self.call_ev[op], self.ret_ev[op]] {
            if ev != NIL {
                let (p, n) = (self.prev[ev as usize], self.next[ev as usize]);
                self.next[p as usize] = n;
                if n != NIL {
                    self.prev[n as usize] = p;
                }
            }
        }
    }

    /// The ways determinate op `op` (call event `entry`) can be linearized next: directly if the
    /// model allows, else after a minimal chain of available info ops (module comment).
    fn choices(&mut self, entry: u32, op: usize) -> Vec<Choice> {
        let input = &self.ops[op].input;
        if let Some(next) = self.model.step(self.state, input) {
            return vec![Choice::Direct(Step { op, state: next })];
        }
        if self.info_ops.is_empty() {
            return Vec::new();
        }
        // Info ops invoked before the first remaining return are available.
        let mut limit = entry;
        while limit != NIL && self.ev_call[limit as usize] {
            limit = self.next[limit as usize];
        }
        let mut chains = Vec::new();
        match *input {
            RegisterInput::Read(v) | RegisterInput::Cas(v, _) => {
                self.productions(v, limit, &mut Vec::new(), &mut chains);
            }
            RegisterInput::CasMismatch(_) => {
                for &p in &self.info_ops {
                    if self.call_ev[p as usize] >= limit {
                        break;
                    }
                    if !self.linearized.contains(p as usize) {
                        chains.push(vec![p]);
                    }
                }
            }
            RegisterInput::Write(_) => {}
        }
        // Available, unused info ops with the same input are interchangeable (each is open
        // forever from an invocation already passed): try one chain per sequence of inputs.
        let mut seen: HashSet<Vec<RegisterInput>> = HashSet::new();
        chains
            .into_iter()
            .filter(|chain| {
                seen.insert(chain.iter().map(|&p| self.ops[p as usize].input).collect())
            })
            .filter_map(|chain| self.apply_chain(&chain, op))
            .collect()
    }

    /// Every chain of available, unused info ops that leaves `target` in the register.
    fn productions(
        &mut self,
        target: Value,
        limit: u32,
        used: &mut Vec<u32>,
        out: &mut Vec<Vec<u32>>,
    ) {
        let Some(candidates) = self.producers.get(&target).cloned() else {
            return;
        };
        for p in candidates {
            if out.len() >= MAX_CHAINS {
                self.chains_capped = true;
                return;
            }
            if self.linearized.contains(p as usize)
                || self.call_ev[p as usize] >= limit
                || used.contains(&p)
            {
                continue;
            }
            match self.ops[p as usize].input {
                RegisterInput::Cas(old, _) if old != self.state => {
                    used.push(p);
                    let mut sub = Vec::new();
                    self.productions(old, limit, used, &mut sub);
                    used.pop();
                    out.extend(sub.into_iter().map(|mut c| {
                        c.push(p);
                        c
                    }));
                }
                _ => out.push(vec![p]),
            }
        }
    }

    /// Runs `chain` then `op` through the model from the current state.
    fn apply_chain(&self, chain: &[u32], op: usize) -> Option<Choice> {
        let mut state = self.state;
        let mut steps = Vec::with_capacity(chain.len() + 1);
        for &p in chain.iter().chain(std::iter::once(&(op as u32))) {
            state = self.model.step(state, &self.ops[p as usize].input)?;
            steps.push(Step {
                op: p as usize,
                state,
            });
        }
        Some(Choice::Chain(steps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_tells_configurations_apart_even_when_their_hashes_collide() {
        let mut c = Cache::default();
        assert!(c.insert(7, 1, &[0b01, 0]));
        assert!(!c.insert(7, 1, &[0b01, 0]), "the same configuration twice");
        assert!(c.insert(7, 2, &[0b01, 0]), "same set, other state");
        assert!(c.insert(7, 1, &[0b10, 0]), "same hash and state, other set");
        assert!(!c.insert(7, 2, &[0b01, 0]));
        assert!(!c.insert(7, 1, &[0b10, 0]));
        assert!(c.insert(8, 1, &[0b01, 0]), "another bucket");
        assert_eq!(c.states.len(), 4);
    }
}
