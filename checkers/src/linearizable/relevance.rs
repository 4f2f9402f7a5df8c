//! Until when an indeterminate (`info`) op, or the register's value, can still matter to the
//! search.
//!
//! The search (see [`super::steps`]) never takes an info op as a step of its own: it linearizes
//! one only inside a *chain* right before a determinate op `d` that is illegal without it.
//! Which info ops a chain may hold is fixed by `d`:
//! - for a read of v, or a cas (ok or info) from v: a *production* of v, i.e. an info op that
//!   writes v, or an info cas u->v preceded by a production of u (recursively);
//! - for a cas that failed with a mismatch: one info op, any, that makes the register differ.
//!
//! An info op `p` can only serve a determinate op whose return position is at or past `p`'s
//! first available position, and every determinate op with a return position below the first
//! return left in the list (`j`) is linearized already. Let
//! - `need(v)`: the largest return position of a determinate read of v or cas from v;
//! - `reach(v)`: the least fixed point of `reach(v) = max(need(v), reach(w) for every info cas
//!   v->w)`, the largest `need` of a value that a chain starting with a write of v can produce
//!   (the recursion of productions, read forwards);
//! - `mention(v)`: the larger of `reach(v)` and the largest return position of a mismatch cas
//!   on v: after it, no op left reads v, compares against v, or leads to one that does;
//! - `M`: the largest return position of any mismatch cas.
//!
//! For an info op `p` writing v:
//! - `useful(p)`: the larger of `reach(v)` and, if it is at or past `p`'s first available
//!   position, the last mismatch position that could use `p`: `M` for a write; for a cas from
//!   u, which takes effect only where the register holds u, so only a mismatch cas *on u* can
//!   need it, the last such. Once `j` is past `useful(p)`, `p` is *dead*: no chain of any later
//!   step contains it, linearized or not;
//! - `by_value(p)`: for a write, `mention(v)`: once `j` is past it, `p` can only be the one op
//!   of a mismatch chain (it is past `reach(v)`), it can always take effect there, and the value
//!   it leaves is mentioned by no op left: `p` is *generic*, and all generic ops available at
//!   `j` are interchangeable. For a cas, which takes effect only where the register holds its
//!   old value, `useful(p)`: never generic.
//!
//! And once `j` is past `mention(v)`, a register holding v behaves, for every op left, exactly
//! as one holding any other value no op left mentions: every read and cas left refuses both,
//! every mismatch cas left accepts both, a write leaves the same state from both.
//!
//! The bounds may be too large (they ignore values and positions that rule a use out), never
//! too small, and too large only costs cache sharing ([`super::frontier`]).

use super::events::Events;
use super::key_history::KeyOp;
use super::model::{RegisterInput, Value};

/// No determinate op can ever use the info op / mention the value.
pub const NEVER: i32 = -1;

/// Return positions are counted in `i32` here (4 bytes a position, not 8): a key with more
/// determinate ops than this is not searched (the search says so, see [`fits`]).
pub const MAX_POSITIONS: usize = i32::MAX as usize;

/// Whether a key with `events` can be searched (see [`MAX_POSITIONS`]).
pub fn fits(events: &Events) -> bool {
    events.positions() < MAX_POSITIONS
}

/// When info ops and values stop mattering, for one key.
#[derive(Debug, Clone)]
pub struct Relevance {
    /// Per op: `useful` for an info op, NEVER for a determinate one.
    pub useful: Vec<i32>,
    /// Per op: `by_value` for an info op, NEVER for a determinate one.
    pub by_value: Vec<i32>,
    /// `mention(v)` per value id (below the largest id an op uses).
    mention: Vec<i32>,
    /// `M`, the largest return position of a mismatch cas (NEVER if none): until then every
    /// linearized info write is live.
    pub last_mismatch: i32,
}

impl Relevance {
    /// Computes the bounds of the module doc for `ops` (with their `events`).
    pub fn new(ops: &[KeyOp], events: &Events) -> Relevance {
        let values = value_count(ops);
        let mut reach = vec![NEVER; values];
        let mut mismatch = vec![NEVER; values];
        let mut info_cas: Vec<(Value, Value)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let pos = events.pos[i] as i32;
            let into = match (op.end.is_some(), op.input) {
                (true, RegisterInput::Read(v) | RegisterInput::Cas(v, _)) => Some((&mut reach, v)),
                (true, RegisterInput::CasMismatch(v)) => Some((&mut mismatch, v)),
                (false, RegisterInput::Cas(from, to)) => {
                    info_cas.push((from, to));
                    None
                }
                _ => None,
            };
            if let Some((list, v)) = into {
                list[v as usize] = list[v as usize].max(pos);
            }
        }
        least_fixed_point(&mut reach, &info_cas);
        let last_mismatch = mismatch.iter().copied().max().unwrap_or(NEVER);
        let mention: Vec<i32> = reach
            .iter()
            .zip(&mismatch)
            .map(|(r, m)| *r.max(m))
            .collect();
        let mut useful = vec![NEVER; ops.len()];
        let mut by_value = vec![NEVER; ops.len()];
        for (i, op) in ops.iter().enumerate() {
            let Some(v) = op.input.written().filter(|_| op.end.is_none()) else {
                continue;
            };
            // A write can make the register differ for any mismatch cas; a cas from u only
            // where it holds u, which is needed only by a mismatch cas on u.
            let mismatches = match op.input {
                RegisterInput::Cas(from, _) => mismatch[from as usize],
                _ => last_mismatch,
            };
            let by_mismatch = if mismatches >= events.pos[i] as i32 {
                mismatches
            } else {
                NEVER
            };
            useful[i] = reach[v as usize].max(by_mismatch);
            by_value[i] = match op.input {
                RegisterInput::Write(_) => mention[v as usize],
                _ => useful[i],
            };
        }
        Relevance {
            useful,
            by_value,
            mention,
            last_mismatch,
        }
    }

    /// Whether some op left at return position `j` mentions `v` (see the module doc).
    pub fn mentioned(&self, v: Value, j: u32) -> bool {
        self.mention.get(v as usize).is_some_and(|&m| m >= j as i32)
    }

    /// Bytes held, roughly.
    pub fn bytes(&self) -> usize {
        (self.useful.capacity() + self.by_value.capacity() + self.mention.capacity()) * 4
    }
}

/// `reach(v) = max(reach(v), reach(w))` for every info cas v->w, to a fixed point: each round
/// lengthens the chains accounted for by one info cas, and a chain that uses each info cas at
/// most once has at most `info_cas.len()` of them.
fn least_fixed_point(reach: &mut [i32], info_cas: &[(Value, Value)]) {
    for _ in 0..info_cas.len() {
        let mut changed = false;
        for &(from, to) in info_cas {
            let (from, to) = (from as usize, to as usize);
            if reach[to] > reach[from] {
                reach[from] = reach[to];
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// One past the largest value id the ops use (as the search sees them, or as recorded).
pub fn value_count(ops: &[KeyOp]) -> usize {
    let ids = |input: RegisterInput| match input {
        RegisterInput::Read(v) | RegisterInput::Write(v) | RegisterInput::CasMismatch(v) => [v, v],
        RegisterInput::Cas(a, b) => [a, b],
    };
    ops.iter()
        .flat_map(|op| ids(op.input).into_iter().chain(ids(op.shown)))
        .max()
        .map_or(0, |v| v as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::super::key_history::test_op as op;
    use super::*;

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
        let r = Relevance::new(&ops, &ev);
        // The write of 1 can feed the cas 1->2 that the read of 2 (position 1) needs, and the
        // mismatch on 3 at position 3 could use the write, not the cas from 1 (the register
        // holds 1 there only if it does not hold 3).
        assert_eq!((r.by_value[0], r.useful[0]), (1, 3));
        assert_eq!((r.by_value[1], r.useful[1]), (1, 1), "a cas: never generic");
        assert_eq!(r.by_value[4], NEVER, "a determinate op");
        assert_eq!((r.by_value[5], r.useful[5]), (NEVER, 3));
        assert!(r.mentioned(3, 3) && !r.mentioned(3, 4) && !r.mentioned(9, 0));
        assert!(r.mentioned(1, 1) && !r.mentioned(1, 2));
        let ops: Vec<KeyOp> = ops.into_iter().take(6).collect();
        let ev = Events::new(&ops);
        let r = Relevance::new(&ops, &ev);
        assert_eq!((r.useful[0], r.useful[1], r.useful[5]), (1, 1, NEVER));
    }
}
