//! The set of linearized operations, as a bitset with an incrementally maintained hash.
//!
//! The search caches (linearized set, state) pairs (Lowe's memoisation). Hashing a whole bitset
//! on every step costs O(ops / 64); instead each bit has a fixed pseudo-random 64-bit key and the
//! set's hash is the XOR of the keys of its members (Zobrist hashing), updated in O(1) by `set`
//! and `clear`. Equality still compares every word, so a hash collision cannot merge two sets.

/// A fixed-size set of operation ids with an O(1) hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    hash: u64,
    len: usize,
}

/// SplitMix64: a fixed, well-mixed key per bit position (no randomness: results reproduce).
fn bit_key(i: usize) -> u64 {
    let mut z = (i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Bitset {
    /// An empty set able to hold ids `0..capacity`.
    pub fn new(capacity: usize) -> Bitset {
        Bitset {
            words: vec![0; capacity.div_ceil(64).max(1)],
            hash: 0,
            len: 0,
        }
    }

    /// Adds `i`; no-op if present.
    pub fn set(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        if self.words[w] & b == 0 {
            self.words[w] |= b;
            self.hash ^= bit_key(i);
            self.len += 1;
        }
    }

    /// Removes `i`; no-op if absent.
    pub fn clear(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        if self.words[w] & b != 0 {
            self.words[w] &= !b;
            self.hash ^= bit_key(i);
            self.len -= 1;
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1u64 << (i % 64)) != 0
    }

    /// The Zobrist hash of the members.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw words, for storing a snapshot in the cache.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Bytes a snapshot of this set occupies in the cache.
    pub fn snapshot_bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_members_not_on_order() {
        let mut a = Bitset::new(130);
        let mut b = Bitset::new(130);
        a.set(3);
        a.set(129);
        b.set(129);
        b.set(3);
        b.set(64);
        b.clear(64);
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.len(), 2);
        assert!(a.contains(129) && !a.contains(64));
        a.clear(3);
        assert_ne!(a.hash(), b.hash());
    }
}
