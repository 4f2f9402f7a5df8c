//! Which steps a configuration of the search offers, and in which order they are tried.
//!
//! **Compound steps.** Indeterminate (`info`) ops have a call and no return: they may take
//! effect at any point after their invocation, or never. The classic blow-up is that plain WGL
//! linearizes them eagerly, so k concurrent info writes give 2^k linearized subsets. Here an info
//! op is never a step of its own: it is linearized only as part of a *compound step*, as a short
//! chain immediately before a determinate op `d` that is illegal without it (a read of v preceded
//! by the info write of v). This loses no linearization: take any linearization with the fewest
//! info ops, placed as late as possible. A run of info ops at its end can be dropped (fewer info
//! ops). A run R before `d` that `d` does not need is either useless (`d` is a write, or R
//! returns the state it started from: drop it) or can move after `d` (`d` reads: it sees the
//! state before R, and R is open forever so moving it later breaks no real-time order). So every
//! run precedes a `d` that is illegal before it, and a minimal run is a production chain: for a
//! read or cas of v, an op writing v (a write, or a cas from u preceded by a production of u);
//! for a mismatch cas on v, one op that makes the register differ from v.
//! [`Search::push_choices`] enumerates exactly these, leaving out info ops that can no longer
//! matter ([`super::relevance`]).
//!
//! **Order.** Every available determinate op is tried eventually (unless a read makes the
//! others pointless, see [`Search::first_step`]), so the order changes how soon a
//! linearization is found, never whether one is: first a read that is legal now; else the
//! legal write or cas whose value's *cluster* (the op and every determinate op that reads or
//! compares against that value) has its last invocation first, since with unique values a
//! cluster is a contiguous run of the linearization and the one whose members all began
//! earliest can close first (Gibbons and Korach's zones); else the op that returns first; then
//! the rest in call order.

use super::events::{Events, HEAD, NIL};
use super::key_history::KeyOp;
use super::model::{Model, RegisterInput, Value};
use super::search::{Level, Search, Step};
use std::collections::HashSet;

/// Production chains per step beyond which the search gives up as `unknown` (never reached by
/// histories with unique values; a guard against adversarial input).
const MAX_CHAINS: usize = 4096;

/// Per op: for a determinate op that writes v, the latest invocation (its call node in
/// `events`) among the determinate ops that write v, read v or compare against v (0 for other
/// ops). Values as recorded: the values nobody observes, which the search merges, are each
/// their own cluster.
pub(super) fn cluster_ends(ops: &[KeyOp], events: &Events) -> Vec<u32> {
    let mut last = vec![0u32; super::relevance::value_count(ops)];
    for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.end.is_some()) {
        let v = match op.shown {
            RegisterInput::Read(v) | RegisterInput::Cas(v, _) | RegisterInput::CasMismatch(v) => {
                Some(v)
            }
            RegisterInput::Write(_) => None,
        };
        for v in v.into_iter().chain(op.shown.written()) {
            last[v as usize] = last[v as usize].max(events.call_node[i]);
        }
    }
    ops.iter()
        .map(|op| match op.shown.written() {
            Some(v) if op.end.is_some() => last[v as usize],
            _ => 0,
        })
        .collect()
}

impl<M> Search<'_, M>
where
    M: Model<State = Value, Input = RegisterInput>,
{
    /// The call node to try first in the current configuration (NIL: none), and whether it is
    /// the only one worth trying.
    ///
    /// An available op that reads (a read, or a mismatch cas) and is legal now is the only one:
    /// if the configuration has a completion, the op sits in it at some later point p where the
    /// register holds a state it accepts; move it from p to now. It is legal now and changes no
    /// state, so every other op sees what it saw before; real time allows it, since every op
    /// that returned before its call is linearized already (its call precedes the first return
    /// left) and moving an op earlier cannot put it before an op that returned before it was
    /// called. So the configuration completes iff the one after this step does.
    pub(super) fn first_step(&self) -> (u32, bool) {
        let mut node = self.ev.next[HEAD as usize];
        // The legal write or cas whose value's last reader is invoked first.
        let mut writer: Option<(u32, u32)> = None;
        while node != NIL && self.ev.is_call[node as usize] {
            let op = self.ev.op[node as usize] as usize;
            let input = &self.ops[op].input;
            match self.model.step(self.state, input) {
                Some(next) if next == self.state && input.written().is_none() => {
                    return (node, true);
                }
                Some(_) if input.written().is_some() => {
                    let key = (self.cluster_end[op], node);
                    if writer.is_none_or(|w| key < w) {
                        writer = Some(key);
                    }
                }
                _ => {}
            }
            node = self.ev.next[node as usize];
        }
        if let Some((_, node)) = writer {
            return (node, false);
        }
        // No write is legal: the op that returns first (`node` is its return, if any).
        if node == NIL {
            return (NIL, false);
        }
        let op = self.ev.op[node as usize] as usize;
        (self.ev.call_node[op], false)
    }

    /// The call node to try after `level.at`, and whether it comes from the scan of the list.
    pub(super) fn next_candidate(&self, level: &Level) -> Option<(u32, bool)> {
        let mut node = if level.at == NIL && level.first != NIL {
            return Some((level.first, false));
        } else if level.at == NIL || !level.scanning {
            if level.forced {
                return None;
            }
            self.ev.next[HEAD as usize]
        } else {
            self.ev.next[level.at as usize]
        };
        while node != NIL && node == level.first {
            node = self.ev.next[node as usize];
        }
        (node != NIL && self.ev.is_call[node as usize]).then_some((node, true))
    }

    /// Pushes the ways the determinate op called at `node` can be linearized next: directly if
    /// the model allows, else after a minimal chain of available info ops (module comment).
    pub(super) fn push_choices(&mut self, node: u32) {
        let op = self.ev.op[node as usize] as usize;
        let first = self.ends.len();
        self.push_steps(op);
        // A skippable op may also be dropped (it took effect before its window began), unless
        // taking it leaves the state as it is anyway.
        let (from, to) = (first, self.ends.len());
        let same = (from..to).any(|c| {
            let start = if c == 0 { 0 } else { self.ends[c - 1] as usize };
            self.ends[c] as usize == start + 1 && self.steps[start].state == self.state
        });
        if self.ops[op].skippable && !same {
            self.steps.push(Step {
                op: op as u32,
                state: self.state,
            });
            self.ends.push(self.steps.len() as u32);
        }
    }

    fn push_steps(&mut self, op: usize) {
        let input = &self.ops[op].input;
        if let Some(next) = self.model.step(self.state, input) {
            self.steps.push(Step {
                op: op as u32,
                state: next,
            });
            self.ends.push(self.steps.len() as u32);
            return;
        }
        if self.ev.info.is_empty() {
            return;
        }
        // Info ops invoked before the first remaining return are available.
        let first = self.ev.first_return_from(self.ev.call_node[op]);
        let j = self.ev.pos[self.ev.op[first as usize] as usize];
        let mut chains = Vec::new();
        match *input {
            RegisterInput::Read(v) | RegisterInput::Cas(v, _) => {
                self.productions(v, j, &mut Vec::new(), &mut chains);
            }
            RegisterInput::CasMismatch(_) => {
                // Generic info ops are interchangeable here (relevance.rs): try one of them.
                let mut generic_tried = false;
                for &p in &self.ev.info {
                    if self.ev.pos[p as usize] > j {
                        break;
                    }
                    let generic = self.rel.by_value[p as usize] < j as i32;
                    if self.usable(p, j) && !(generic && generic_tried) {
                        generic_tried |= generic;
                        chains.push(vec![p]);
                    }
                }
            }
            RegisterInput::Write(_) => {}
        }
        // Available, unused info ops with the same input are interchangeable (each is open
        // forever from an invocation already passed): try one chain per sequence of inputs.
        let mut seen: HashSet<Vec<RegisterInput>> = HashSet::new();
        for chain in chains {
            if seen.insert(chain.iter().map(|&p| self.ops[p as usize].input).collect()) {
                self.push_chain(&chain, op);
            }
        }
    }

    /// Is info op `p` available, unused and still able to matter at position `j`?
    fn usable(&self, p: u32, j: u32) -> bool {
        let p = p as usize;
        self.ev.pos[p] <= j && !self.linearized.contains(p) && self.rel.useful[p] >= j as i32
    }

    /// Every chain of usable info ops that leaves `target` in the register.
    fn productions(&mut self, target: Value, j: u32, used: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
        let Some(candidates) = self.producers.get(&target).cloned() else {
            return;
        };
        for p in candidates {
            if out.len() >= MAX_CHAINS {
                self.chains_capped = true;
                return;
            }
            if !self.usable(p, j) || used.contains(&p) {
                continue;
            }
            match self.ops[p as usize].input {
                RegisterInput::Cas(old, _) if old != self.state => {
                    used.push(p);
                    let mut sub = Vec::new();
                    self.productions(old, j, used, &mut sub);
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

    /// Runs `chain` then `op` through the model from the current state and pushes the steps
    /// as one choice, if the model allows them.
    fn push_chain(&mut self, chain: &[u32], op: usize) {
        let mut state = self.state;
        let at = self.steps.len();
        for &p in chain.iter().chain(std::iter::once(&(op as u32))) {
            let Some(next) = self.model.step(state, &self.ops[p as usize].input) else {
                self.steps.truncate(at);
                return;
            };
            state = next;
            self.steps.push(Step { op: p, state });
        }
        self.ends.push(self.steps.len() as u32);
    }
}
