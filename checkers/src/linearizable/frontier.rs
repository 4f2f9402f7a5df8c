//! The bounded form of a search configuration, which the cache remembers, and why it is exact.
//!
//! Lowe's memoisation caches every configuration (S, s) the search reaches: S the set of
//! linearized ops, s the register's state. Kept as a bitset over all of a key's ops, a cached
//! configuration costs ops/8 bytes and there are about as many configurations as ops, so memory
//! grows with the square of the key's history (Porcupine's users hit the same wall). Here a
//! configuration is cached as its *frontier*:
//!
//! - `j`: the return position (see [`super::events`]) of the first determinate op not in S.
//!   Every determinate op with a smaller position is in S (that is what "first" means), the op
//!   at `j` is not;
//! - the *window*: which determinate ops with positions above `j` are in S, as bits `j+1..=h`,
//!   `h` the highest position in S. Only ops invoked before the return at `j` can be in S (the
//!   search linearizes only calls that precede the first return left), so the window spans the
//!   ops that were open when that op returned: about the concurrency, not the history;
//! - the info ops in S that are still *live* at `j` and not *generic*, and how many generic
//!   info writes S holds ([`super::relevance`]); dead ones are left out, linearized or not;
//! - the state s, or [`UNMENTIONED`] when no op left mentions s.
//!
//! **Exactness.** Take two configurations with equal frontiers. They hold the same determinate
//! ops (all below `j`, the same window, none at `j`), so the same determinate ops remain, the
//! same events are left in the list, and the same calls precede its first return (the one at
//! `j`). Match their info ops: the same live non-generic ones are linearized; dead ones never
//! appear in a chain of any later step, linearized or not; the generic ones available at `j`
//! are as many in both, as many of them linearized, and interchangeable (each can only be the
//! one op of a mismatch chain until the same last mismatch, and leaves a value no op left
//! mentions), so a one-to-one match exists. The states are equal, or both unmentioned, and
//! then every op left treats them alike. Under this match each continuation of one is a
//! continuation of the other, step for step (`j` never decreases along a path, so dead stays
//! dead, generic stays generic and unmentioned stays unmentioned), and one completes exactly
//! when the other does: the cache may stand one for the other. It never merges a
//! configuration with one of its ancestors on the search path: both would hold the same number
//! of determinate ops, and every step adds one. The search's verdict and its longest
//! linearizable prefix (counted in determinate ops) are the same as with whole-set keys; only
//! the cache is smaller.
//!
//! A frontier is stored as 64-bit words: a header, the window words, then the listed info ops'
//! indices two per word. The header is one word `j | s << 26 | window words << 52 | listed
//! ops << 58` when each fits and no generic op is linearized (bit 63 clear; [`UNMENTIONED`] is
//! `2^26 - 1` there), else four: `1 << 63 | j`, `s`, `window words | listed ops << 32`,
//! generic ops. Which form a frontier takes depends only on its parts, and the counts make the
//! encoding prefix-free, so equal words mean equal frontiers.

use super::bitset::Bitset;
use super::model::{Value, UNMENTIONED};

/// The short header's state field for [`UNMENTIONED`]; smaller states are themselves.
const SHORT_UNMENTIONED: u64 = (1 << 26) - 1;

/// Builds frontier keys into a reused buffer.
#[derive(Debug, Default)]
pub struct Frontier {
    words: Vec<u64>,
}

impl Frontier {
    /// Encodes the frontier: first unlinearized position `j`, state (already [`UNMENTIONED`]
    /// if no op left mentions it), the linearized return positions `linearized` with `top` one
    /// past the highest of them (0 if none), the live non-generic linearized info ops `listed`
    /// (in a canonical order), and how many generic info writes are linearized.
    pub fn encode(
        &mut self,
        j: u32,
        state: Value,
        linearized: &Bitset,
        top: u32,
        listed: &[u32],
        generic: usize,
    ) -> &[u64] {
        let window = (top as usize).saturating_sub(j as usize + 1).div_ceil(64) as u64;
        let count = listed.len() as u64;
        let generic = generic as u64;
        let short_state = if state == UNMENTIONED {
            SHORT_UNMENTIONED
        } else {
            state as u64
        };
        self.words.clear();
        if j < 1 << 26
            && (state == UNMENTIONED || short_state < SHORT_UNMENTIONED)
            && window < 1 << 6
            && count < 1 << 5
            && generic == 0
        {
            self.words
                .push(j as u64 | short_state << 26 | window << 52 | count << 58);
        } else {
            self.words.push(1 << 63 | j as u64);
            self.words.push(state as u64);
            self.words.push(window | count << 32);
            self.words.push(generic);
        }
        linearized.window(j as usize + 1, top as usize, &mut self.words);
        for pair in listed.chunks(2) {
            let high = pair.get(1).map_or(0, |&op| (op as u64) << 32);
            self.words.push(pair[0] as u64 | high);
        }
        &self.words
    }
}

/// A well-mixed 64-bit hash of a frontier's words (the cache compares the words themselves).
pub fn hash(words: &[u64]) -> u64 {
    let mut h: u64 = 0x243F_6A88_85A3_08D3;
    for &w in words {
        h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
    }
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontiers_differ_exactly_when_their_parts_do() {
        let mut lin = Bitset::new(200);
        let mut f = Frontier::default();
        // Positions 0..3 linearized, 3 not, 5 linearized: j = 3, window = bit 5 - 4 = 1.
        for i in [0, 1, 2, 5] {
            lin.set(i);
        }
        let a = f.encode(3, 7, &lin, 6, &[], 0).to_vec();
        assert_eq!(a, vec![3 | 7 << 26 | 1 << 52, 0b10]);
        let b = f.encode(3, 7, &lin, 6, &[9, 4, 11], 0).to_vec();
        let header = 3 | 7 << 26 | 1 << 52 | 3 << 58;
        assert_eq!(b, vec![header, 0b10, 9 | 4 << 32, 11]);
        // A window word and a live op with the same bits do not collide: the counts differ.
        let c = f.encode(3, 7, &lin, 4, &[2], 0).to_vec();
        assert_eq!(c, vec![3 | 7 << 26 | 1 << 58, 2]);
        // Too large for one header word, or generic ops: the long form, with bit 63 set.
        let d = f.encode(3, 1 << 26, &lin, 6, &[], 0).to_vec();
        assert_eq!(d, vec![1 << 63 | 3, 1 << 26, 1, 0, 0b10]);
        let e = f.encode(3, 7, &lin, 6, &[9], 2).to_vec();
        assert_eq!(e, vec![1 << 63 | 3, 7, 1 | 1 << 32, 2, 0b10, 9]);
        // The unmentioned state has a short spelling of its own.
        let u = f.encode(3, UNMENTIONED, &lin, 6, &[], 0).to_vec();
        assert_eq!(u, vec![3 | SHORT_UNMENTIONED << 26 | 1 << 52, 0b10]);
        assert_ne!(hash(&a), hash(&b));
    }
}
