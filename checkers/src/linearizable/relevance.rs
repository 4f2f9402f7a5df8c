//! Until when an indeterminate (`info`) op can still matter to the search.
//!
//! The search (see [`super::search`]) never takes an info op as a step of its own: it
//! linearizes one only inside a *chain* right before a determinate op `d` that is illegal
//! without it. Which info ops a chain may hold is fixed by `d`:
//! - for a read of v, or a cas (ok or info) from v: a *production* of v, i.e. an info op that
//!   writes v, or an info cas u->v preceded by a production of u (recursively);
//! - for a cas that failed with a mismatch: one info op, any, that makes the register differ.
//!
//! In both cases an info op `p` can only serve a determinate op whose return position is at or
//! past `p`'s first available position (`p` is available only once the first return left in
//! the list is past its call). So `p` can appear in a chain only while some determinate op that
//! could use it is still to be linearized, and every determinate op with a return position
//! below the first return left in the list is linearized already. [`last_useful`] bounds, for
//! each info op, the last return position of a determinate op that could use it:
//! - `need(v)`: the largest return position of a determinate read of v or cas from v;
//! - `reach(v)`: the least fixed point of `reach(v) = max(need(v), reach(w) for every info cas
//!   v->w)`, i.e. the largest `need` of a value some chain starting with a write of v can
//!   produce (the recursion of productions, read forwards);
//! - for `p` writing v: `reach(v)`, and the largest return position of a mismatch cas if that
//!   is at or past `p`'s first available position.
//!
//! Once the first return left in the list is past `last_useful(p)`, `p` is *dead*: no chain of
//! any later step contains it, whether `p` is linearized or not. The bound may be too large
//! (it ignores values and positions that rule a use out), never too small, and too large only
//! costs cache sharing: [`super::frontier`] keeps a live op's status in the cache key.

use super::events::Events;
use super::key_history::KeyOp;
use super::model::{RegisterInput, Value};
use std::collections::HashMap;

/// No determinate op can ever use the info op.
pub const NEVER: i64 = -1;

/// Per op of `ops`: for an info op, the last return position at which it can still be part of
/// a chain ([`NEVER`] if at none); for a determinate op, [`NEVER`] (unused).
pub fn last_useful(ops: &[KeyOp], events: &Events) -> Vec<i64> {
    let mut reach: HashMap<Value, i64> = HashMap::new();
    let mut last_mismatch = NEVER;
    let mut info_cas: Vec<(Value, Value)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let pos = events.pos[i] as i64;
        match (op.end.is_some(), op.input) {
            (true, RegisterInput::Read(v) | RegisterInput::Cas(v, _)) => {
                let e = reach.entry(v).or_insert(NEVER);
                *e = (*e).max(pos);
            }
            (true, RegisterInput::CasMismatch(_)) => last_mismatch = last_mismatch.max(pos),
            (false, RegisterInput::Cas(from, to)) => info_cas.push((from, to)),
            _ => {}
        }
    }
    // Least fixed point: each round lengthens the chains accounted for by one info cas, and a
    // chain that uses each info cas at most once has at most `info_cas.len()` of them.
    for _ in 0..info_cas.len() {
        let mut changed = false;
        for &(from, to) in &info_cas {
            let to_reach = reach.get(&to).copied().unwrap_or(NEVER);
            let e = reach.entry(from).or_insert(NEVER);
            if to_reach > *e {
                *e = to_reach;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let Some(v) = op.input.written().filter(|_| op.end.is_none()) else {
                return NEVER;
            };
            let by_value = reach.get(&v).copied().unwrap_or(NEVER);
            let by_mismatch = if last_mismatch >= events.pos[i] as i64 {
                last_mismatch
            } else {
                NEVER
            };
            by_value.max(by_mismatch)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(input: RegisterInput, start: u64, end: Option<u64>) -> KeyOp {
        KeyOp {
            input,
            shown: input,
            start,
            end,
            invoke_index: start,
            complete_index: end,
        }
    }

    #[test]
    fn an_info_write_matters_until_the_last_read_of_its_value_or_of_what_it_leads_to() {
        use RegisterInput::*;
        let ops = vec![
            op(Write(1), 0, None),           // 0: info write 1
            op(Cas(1, 2), 1, None),          // 1: info cas 1->2
            op(Read(1), 2, Some(3)),         // 2: position 0
            op(Read(2), 4, Some(5)),         // 3: position 1
            op(Write(3), 6, Some(7)),        // 4: position 2
            op(Write(9), 8, None),           // 5: info write nobody reads
            op(CasMismatch(3), 9, Some(10)), // 6: position 3
        ];
        let ev = Events::new(&ops);
        let last = last_useful(&ops, &ev);
        // The write of 1 can feed the cas 1->2 that the read of 2 (position 1) needs, and the
        // mismatch at position 3 could use either.
        assert_eq!(last[0], 3);
        assert_eq!(last[1], 3);
        assert_eq!(last[5], 3);
        let ops: Vec<KeyOp> = ops.into_iter().take(6).collect();
        let ev = Events::new(&ops);
        let last = last_useful(&ops, &ev);
        assert_eq!((last[0], last[1], last[5]), (1, 1, NEVER));
    }
}
