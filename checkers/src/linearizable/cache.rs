//! Lowe's cache of visited configurations, as frontiers ([`super::frontier`]) in flat arenas.
//!
//! A configuration costs no allocation of its own: its words go to one arena, and an
//! open-addressing table (linear probing) of 32-bit entry numbers finds it by hash. Membership
//! compares the words themselves, so a hash collision cannot merge two configurations. About
//! 30 bytes per configuration of a concurrency-10 history: 4 for its hash, 4 for where its words
//! start, 8 to 16 for the words, and 6 to 11 of table.

/// The set of visited frontiers.
#[derive(Debug, Default)]
pub struct Cache {
    /// Entry number + 1 per slot (0: empty); a power of two long, at most 3/4 full.
    slots: Vec<u32>,
    /// Per entry: the 32-bit hash it was filed under.
    hashes: Vec<u32>,
    /// Entry i's words are `words[start[i]..start[i + 1]]`.
    start: Vec<u32>,
    words: Vec<u64>,
}

/// The cache cannot hold more (over 2^32 words or entries: far past any memory budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl Cache {
    /// Adds a frontier; Ok(false) when it was already there.
    pub fn insert(&mut self, hash: u64, key: &[u64]) -> Result<bool, Full> {
        if self.start.is_empty() {
            self.start.push(0);
        }
        let h = (hash >> 32) as u32 ^ hash as u32;
        if (self.hashes.len() + 1) * 4 > self.slots.len() * 3 {
            self.grow()?;
        }
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                break;
            }
            let e = slot as usize - 1;
            if self.hashes[e] == h && self.entry(e) == key {
                return Ok(false);
            }
            i = (i + 1) & mask;
        }
        let end = self.words.len() + key.len();
        if end > u32::MAX as usize || self.hashes.len() >= u32::MAX as usize - 1 {
            return Err(Full);
        }
        self.words.extend_from_slice(key);
        self.start.push(end as u32);
        self.hashes.push(h);
        self.slots[i] = self.hashes.len() as u32;
        Ok(true)
    }

    fn entry(&self, e: usize) -> &[u64] {
        &self.words[self.start[e] as usize..self.start[e + 1] as usize]
    }

    /// Doubles the table and files every entry again.
    fn grow(&mut self) -> Result<(), Full> {
        let size = (self.slots.len() * 2).max(1024);
        if size > u32::MAX as usize {
            return Err(Full);
        }
        self.slots = vec![0; size];
        let mask = size - 1;
        for (e, &h) in self.hashes.iter().enumerate() {
            let mut i = h as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = e as u32 + 1;
        }
        Ok(())
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Bytes allocated (what the memory budget is charged).
    pub fn bytes(&self) -> usize {
        (self.slots.capacity() + self.hashes.capacity() + self.start.capacity()) * 4
            + self.words.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_frontiers_apart_even_when_their_hashes_collide() {
        let mut c = Cache::default();
        assert_eq!(c.insert(7, &[1, 0b01]), Ok(true));
        assert_eq!(
            c.insert(7, &[1, 0b01]),
            Ok(false),
            "the same frontier twice"
        );
        assert_eq!(c.insert(7, &[2, 0b01]), Ok(true));
        assert_eq!(c.insert(7, &[1, 0b10]), Ok(true));
        assert_eq!(
            c.insert(7, &[1, 0b10, 0]),
            Ok(true),
            "a longer one, same prefix"
        );
        assert_eq!(c.insert(7, &[2, 0b01]), Ok(false));
        assert_eq!(c.insert(8, &[1, 0b01]), Ok(true), "another hash");
        assert_eq!(c.len(), 5);
        assert!(c.bytes() > 0);
    }

    #[test]
    fn keeps_every_entry_across_growth() {
        let mut c = Cache::default();
        for i in 0..5000u64 {
            assert_eq!(
                c.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), &[i]),
                Ok(true)
            );
        }
        for i in 0..5000u64 {
            assert_eq!(
                c.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), &[i]),
                Ok(false)
            );
        }
        assert_eq!(c.len(), 5000);
    }
}
