//! Refuting a key early: the ops just before the op the search is stuck at, checked from every
//! state the register could hold when they began.
//!
//! To conclude that a key is not linearizable, the depth-first search must exhaust every
//! configuration before the op it cannot get past. On a long key that is most of the history
//! (a stale read at op 500,000 makes it revisit the orders of the 499,999 ops before it), while
//! the reason is usually local: the read's value was overwritten a few hundred ops earlier.
//!
//! **The window.** Let `o` be the op at the stuck position (the first return the search never
//! got past) and E the return event `span` positions before it. The window keeps:
//! - every determinate op invoked after E and no later than `o`'s return, as it is;
//! - every determinate op invoked before E and returning after it (it *spans* E), as a
//!   *skippable* op: it took effect before E, and the search may drop it, or after E inside
//!   its interval, and the search may linearize it there as usual;
//! - every `info` op invoked no later than `o`'s return, as it is;
//!
//! and drops the ops that returned by E and everything invoked after `o` returned. It must reach a configuration in which every op returning by `o`'s
//! return is linearized, starting from a register that holds any value: one search per value
//! that some op of the window reads or compares against, and one for any other value (no op of
//! the window can tell two unmentioned values apart), sharing one cache.
//!
//! **Soundness.** Suppose the key has a linearization L. Let x be the first op of L invoked after
//! E, and s the register's value just before x. Every op before x in L was invoked before E;
//! every op that returned by E is before x (it returned before x was invoked). Take the ops of
//! L from x on, keep those in the window, and stop before the first op invoked after `o`
//! returned: what remains runs from state s (the window searches from s, or from a value no
//! window op mentions that behaves like s), the spanning ops before x are dropped (their effect
//! is in s) and those after x sit inside their intervals, and every op returning by `o`'s
//! return is in it, since such an op precedes anything invoked after `o` returned. The search is
//! complete (see [`super::steps`]), so it would find it. So if no start state reaches the goal,
//! L cannot exist: the key is not linearizable, and `o` is the first op that cannot be
//! linearized (the search's best configuration got past every earlier return). A window that
//! does reach its goal proves nothing, and the search carries on.

use super::events::{Events, NIL};
use super::key_history::KeyOp;
use super::model::{Model, RegisterInput, Value, UNMENTIONED};
use super::search::{self, Budget, Outcome};
use std::collections::BTreeSet;

/// Bytes of search state a window may use per position it spans, and at most.
const BYTES_PER_POSITION: usize = 16 << 10;
const MAX_BYTES: usize = 256 << 20;

/// Whether the window of `span` positions before return position `stuck` (in `ev`, the events
/// of `ops`) cannot be linearized from any state: then the key is not linearizable. `long`
/// holds (at least) every determinate op open across `span` return positions or more; `useful`
/// says until when each info op can matter ([`super::relevance`]: one that cannot matter after
/// the window's first position is left out).
#[allow(clippy::too_many_arguments)]
pub(super) fn refutes<M>(
    model: &M,
    ops: &[KeyOp],
    ev: &Events,
    long: &[u32],
    useful: &[i32],
    stuck: u32,
    span: u32,
    budget: &Budget,
) -> bool
where
    M: Model<State = Value, Input = RegisterInput>,
{
    let Some(&o) = ev.at_pos.get(stuck as usize) else {
        return false;
    };
    let end = ev.ret_node[o as usize];
    // With no cut (the window reaches the first op), the register starts empty: exact.
    let cut = stuck
        .checked_sub(span)
        .map(|p| ev.ret_node[ev.at_pos[p as usize] as usize]);
    let first = cut.map_or(1, |c| c + 1);
    let mut det: Vec<u32> = (first..=end)
        .filter(|&n| ev.is_call[n as usize] || ev.call_node[ev.op[n as usize] as usize] < first)
        .map(|n| ev.op[n as usize])
        .collect();
    // Ops open across the whole window span more than `span` positions: they are in `long`.
    det.extend(
        long.iter()
            .filter(|&&op| ev.call_node[op as usize] < first && ev.ret_node[op as usize] > end),
    );
    let p0 = stuck.saturating_sub(span) as i32;
    let info = ev.info[..ev.info.partition_point(|&p| ev.pos[p as usize] <= stuck)]
        .iter()
        .filter(|&&p| useful[p as usize] >= p0);
    det.extend(info);
    det.sort_unstable();
    let mut goal = 0u32;
    let window: Vec<KeyOp> = det
        .into_iter()
        .map(|i| {
            let op = &ops[i as usize];
            let (call, ret) = (ev.call_node[i as usize], ev.ret_node[i as usize]);
            goal += u32::from(call != NIL && ret <= end);
            KeyOp {
                skippable: call != NIL && call < first,
                ..op.clone()
            }
        })
        .collect();
    let starts: Vec<Value> = match cut {
        None => vec![model.init()],
        Some(_) => mentioned(&window).chain([UNMENTIONED]).collect(),
    };
    let child = budget.child(MAX_BYTES.min(span as usize * BYTES_PER_POSITION));
    matches!(
        search::reaches(model, &window, &child, goal, &starts),
        Outcome::Violation
    )
}

/// The values the window's ops read or compare against, in a fixed order.
fn mentioned(window: &[KeyOp]) -> impl Iterator<Item = Value> {
    let values: BTreeSet<Value> = window
        .iter()
        .filter_map(|op| match op.input {
            RegisterInput::Read(v) | RegisterInput::Cas(v, _) | RegisterInput::CasMismatch(v) => {
                Some(v)
            }
            RegisterInput::Write(_) => None,
        })
        .collect();
    values.into_iter()
}

#[cfg(test)]
mod tests {
    //! Soundness on random small histories: a window may only refute a position that no
    //! linearization gets past, which an exact search from the empty register decides.
    use super::*;
    use crate::linearizable::model::{CasRegister, Values};
    use crate::linearizable::relevance::Relevance;
    use std::time::Duration;

    fn random_ops(seed: u64) -> Vec<KeyOp> {
        let mut x = seed;
        let mut next = move |n: u64| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        };
        let len = 2 + next(9) as usize;
        (0..len)
            .map(|i| {
                let (a, b) = (next(4) as Value, 1 + next(3) as Value);
                let input = match next(4) {
                    0 => RegisterInput::Read(a),
                    1 => RegisterInput::Write(b),
                    2 => RegisterInput::Cas(a, b),
                    _ => RegisterInput::CasMismatch(a),
                };
                let start = next(12);
                let info = input.written().is_some() && next(3) == 0;
                let end = (!info).then(|| start + next(6));
                KeyOp::new(input, start, end, i as u64)
            })
            .collect()
    }

    #[test]
    fn windows_refute_only_positions_no_linearization_passes() {
        let values = Values::default();
        let model = CasRegister { values: &values };
        let budget = Budget::new(Duration::from_secs(60), 1 << 30);
        let mut refuted = 0;
        for seed in 0..3000 {
            let ops = random_ops(seed);
            let ev = Events::new(&ops);
            let rel = Relevance::new(&ops, &ev);
            let all: Vec<u32> = (0..ops.len() as u32).collect();
            let refutes =
                |stuck, span| refutes(&model, &ops, &ev, &all, &rel.useful, stuck, span, &budget);
            for stuck in 0..ev.positions() as u32 {
                let passes = matches!(
                    search::reaches(&model, &ops, &budget, stuck + 1, &[model.init()]),
                    Outcome::Linearizable
                );
                for span in 1..=stuck + 1 {
                    let r = refutes(stuck, span);
                    assert!(
                        !(r && passes),
                        "seed {seed}, stuck {stuck}, span {span}: {ops:?}"
                    );
                    refuted += usize::from(r);
                }
                // With no cut the window is exact.
                let exact = refutes(stuck, stuck + 1);
                assert_eq!(exact, !passes, "seed {seed}, stuck {stuck}: {ops:?}");
            }
        }
        assert!(refuted > 100, "the windows refuted only {refuted} times");
    }
}
