//! A fixed-size bitset that can copy out a window of its bits.
//!
//! The search keeps one of these over the return positions of a key's determinate ops (which of
//! them are linearized). A cache key holds only the window of it that is still open (see
//! [`super::frontier`]), so the search needs to copy bits `from..to` out as whole words.

/// A fixed-size set of small integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    /// An empty set able to hold `0..capacity`.
    pub fn new(capacity: usize) -> Bitset {
        Bitset {
            words: vec![0; capacity.div_ceil(64).max(1)],
        }
    }

    /// Adds `i`.
    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1u64 << (i % 64);
    }

    /// Removes `i`.
    pub fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1u64 << (i % 64));
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1u64 << (i % 64)) != 0
    }

    /// Appends bits `from..to` to `out` as words: bit `from` is the lowest bit of the first word,
    /// bits past `to` in the last word are zero. Appends nothing when `to <= from`.
    pub fn window(&self, from: usize, to: usize, out: &mut Vec<u64>) {
        let mut start = from;
        while start < to {
            let (w, b) = (start / 64, start % 64);
            let mut word = self.words.get(w).copied().unwrap_or(0) >> b;
            if b > 0 {
                word |= self.words.get(w + 1).copied().unwrap_or(0) << (64 - b);
            }
            let len = to - start;
            if len < 64 {
                word &= (1u64 << len) - 1;
            }
            out.push(word);
            start += 64;
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_shifted_copies_of_the_bits() {
        let mut s = Bitset::new(300);
        for i in [3, 64, 65, 130, 200, 299] {
            s.set(i);
        }
        s.clear(200);
        assert!(s.contains(65) && !s.contains(200) && !s.contains(4));
        let mut out = Vec::new();
        s.window(3, 4, &mut out);
        assert_eq!(out, vec![1]);
        out.clear();
        s.window(4, 131, &mut out);
        // 64 and 65 are bits 60 and 61 of the first word; 130 is bit 126 - 64 of the second.
        assert_eq!(out, vec![(1 << 60) | (1 << 61), 1 << 62]);
        out.clear();
        s.window(131, 300, &mut out);
        assert_eq!(out, vec![0, 0, 1 << (299 - 131 - 128)]);
        out.clear();
        s.window(5, 5, &mut out);
        assert!(out.is_empty());
    }
}
