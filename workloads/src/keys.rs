//! Bounded keys: which key each write goes to, so that no key grows for the whole run (Jepsen's
//! independent keys, Elle's `max-writes-per-key`).
//!
//! A set read returns the whole set and a list read the whole list. If one key took every
//! write, each read would cost O(writes so far): a run of minutes would slow to a crawl and
//! write a history quadratic in its length. So the set-like workloads (set, wait, waitaof) and
//! list-append keep `--keys` keys in use at a time and retire each once it holds
//! `--set-size` elements, moving on to fresh keys. Registers rotate too, after `--set-size`
//! writes: a register's reads cost the same at any length, but the linearizability search of
//! a key grows with the key's history. Reads go to the keys in use; the final reads read every
//! key the run used ([`KeysUsed`]). A counter is one integer and its checker is linear in the
//! history, so the counter workload does not rotate.
//!
//! The rotation is decided per slot, without coordination, so the same seed still gives the
//! same ops whatever the interleaving (see [`crate::generator`]): each slot writes at most
//! `quota = max(1, set_size / concurrency)` elements into each key, round-robin over the
//! `keys` keys of its current *generation*, and then moves to the next generation. A key
//! therefore holds at most `quota × concurrency` elements, which is at most `set_size` (or
//! `concurrency`, when `set_size` is smaller), however fast or slow each slot is. Key number
//! `generation × keys + i` is the i-th key of a generation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How many key numbers a run has handed out so far (the largest + 1), shared by the generator
/// that moves to fresh keys and the final reads that must read every one of them.
#[derive(Debug, Clone, Default)]
pub struct KeysUsed(Arc<AtomicUsize>);

impl KeysUsed {
    /// Notes that key number `n` is in use.
    pub fn note(&self, n: usize) {
        self.0.fetch_max(n.saturating_add(1), Ordering::Relaxed);
    }

    /// The number of key numbers handed out: keys `0..count()` may hold data.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// The rotation of one run: `keys` keys in use per generation, `quota` elements per key from
/// each slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    keys: usize,
    quota: u64,
}

impl Rotation {
    /// The rotation for `keys` keys in use, `set_size` elements per key and `concurrency`
    /// slots (zeros count as one).
    pub fn new(keys: usize, set_size: usize, concurrency: usize) -> Rotation {
        let quota = (set_size.max(1) / concurrency.max(1)).max(1);
        Rotation {
            keys: keys.max(1),
            quota: quota as u64,
        }
    }

    /// The key number of a slot's element number `written` (how many it wrote before).
    pub fn write_key(&self, written: u64) -> usize {
        self.first_key(written) + (written % self.keys as u64) as usize
    }

    /// The key numbers a slot that has written `written` elements has in use: its current
    /// generation's.
    pub fn keys_in_use(&self, written: u64) -> std::ops::Range<usize> {
        let first = self.first_key(written);
        first..first + self.keys
    }

    /// The first key number of the generation element number `written` belongs to.
    fn first_key(&self, written: u64) -> usize {
        let keys = self.keys as u64;
        let generation = written / (self.quota * keys);
        (generation * keys) as usize
    }
}

/// The Redis key of key number `n` named `base`, when `keys` keys are in use at a time: `base`
/// for the first key of a single-key run (as before rotation), else `base<n>`.
pub fn rotated_key(base: &str, n: usize, keys: usize) -> String {
    if n == 0 && keys <= 1 {
        base.to_string()
    } else {
        format!("{base}{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Whatever order the slots write in, no key takes more than `set_size` elements (or
    /// `concurrency`, when `set_size` is smaller), and every key of a generation is used.
    #[test]
    fn no_key_takes_more_than_its_size() {
        for (keys, size, slots) in [(1, 100, 10), (3, 100, 10), (1, 7, 10), (2, 1000, 3)] {
            let rotation = Rotation::new(keys, size, slots);
            let mut per_key: HashMap<usize, usize> = HashMap::new();
            for slot in 0..slots {
                // Slots progress at different speeds.
                for written in 0..(500 * (slot as u64 + 1)) {
                    *per_key.entry(rotation.write_key(written)).or_default() += 1;
                }
            }
            let bound = size.max(slots);
            assert!(per_key.values().all(|&n| n <= bound), "{per_key:?}");
            let highest = per_key.keys().max().copied().unwrap();
            assert_eq!(per_key.len(), highest + 1, "no key number is skipped");
        }
    }

    #[test]
    fn reads_go_to_the_generation_being_written() {
        let rotation = Rotation::new(2, 40, 10);
        // quota 4: elements 0..8 go to keys 0 and 1, 8..16 to keys 2 and 3.
        assert_eq!(rotation.write_key(0), 0);
        assert_eq!(rotation.write_key(1), 1);
        assert_eq!(rotation.write_key(7), 1);
        assert_eq!(rotation.write_key(8), 2);
        assert_eq!(rotation.keys_in_use(0), 0..2);
        assert_eq!(rotation.keys_in_use(7), 0..2);
        assert_eq!(rotation.keys_in_use(9), 2..4);
    }

    #[test]
    fn keys_used_is_the_highest_number_plus_one() {
        let used = KeysUsed::default();
        assert_eq!(used.count(), 0);
        used.note(4);
        used.clone().note(2);
        assert_eq!(used.count(), 5);
        assert_eq!(rotated_key("set", 0, 1), "set");
        assert_eq!(rotated_key("set", 3, 1), "set3");
        assert_eq!(rotated_key("set", 0, 2), "set0");
    }
}
