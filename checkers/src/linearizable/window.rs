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

use super::events::Events;
use super::key_history::KeyOp;
use super::model::{Model, RegisterInput, Value, UNMENTIONED};
use super::search::{self, Budget, Outcome};
use std::collections::BTreeSet;

/// Bytes of search state a window may use per position it spans, and at most.
const BYTES_PER_POSITION: usize = 16 << 10;
const MAX_BYTES: usize = 256 << 20;

/// Whether the window of `span` positions before return position `stuck` (in `ev`, the events
/// of `ops`) cannot be linearized from any state: then the key is not linearizable.
pub(super) fn refutes<M>(
    model: &M,
    ops: &[KeyOp],
    ev: &Events,
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
    let mut window = Vec::new();
    let mut goal = 0u32;
    for (i, op) in ops.iter().enumerate() {
        let call = ev.call_node[i];
        let kept = if call == super::events::NIL {
            (ev.pos[i] <= stuck).then(|| op.clone())
        } else {
            let ret = ev.ret_node[i];
            let kept = match cut {
                _ if call > end => None,
                Some(c) if ret <= c => None,
                Some(c) if call < c => Some(KeyOp {
                    skippable: true,
                    ..op.clone()
                }),
                _ => Some(op.clone()),
            };
            goal += u32::from(kept.is_some() && ret <= end);
            kept
        };
        window.extend(kept);
    }
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
                KeyOp {
                    input,
                    shown: input,
                    start,
                    end,
                    invoke_index: i as u64,
                    complete_index: end,
                    skippable: false,
                }
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
            for stuck in 0..ev.positions() as u32 {
                let passes = matches!(
                    search::reaches(&model, &ops, &budget, stuck + 1, &[model.init()]),
                    Outcome::Linearizable
                );
                for span in 1..=stuck + 1 {
                    let r = refutes(&model, &ops, &ev, stuck, span, &budget);
                    assert!(
                        !(r && passes),
                        "seed {seed}, stuck {stuck}, span {span}: {ops:?}"
                    );
                    refuted += usize::from(r);
                }
                // With no cut the window is exact.
                let exact = refutes(&model, &ops, &ev, stuck, stuck + 1, &budget);
                assert_eq!(exact, !passes, "seed {seed}, stuck {stuck}: {ops:?}");
            }
        }
        assert!(refuted > 100, "the windows refuted only {refuted} times");
    }
}
