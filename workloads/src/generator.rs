//! What operation each client process issues next: seeded, deterministic, with unique values.
//!
//! Determinism is per process *slot* (`process % concurrency`): each slot draws from its own
//! ChaCha8 stream (seed, stream = slot), so the ops a slot issues depend only on the seed and on
//! how many ops that slot has issued before, never on how the scheduler interleaved processes.
//! A process that continues a crashed one (`process + concurrency`) continues its slot's stream.
//!
//! Uniqueness: every written value is `counter * concurrency + slot`, with one counter per slot
//! that only grows. Values are therefore unique across all processes and all keys, and the
//! values one slot writes to a key increase. This is what the lost-writes, stale-reads and
//! txn-cycles checkers rely on to tell writes apart.

use crate::config::WorkloadConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redline_checkers::{Op, Process};
use std::collections::HashMap;

/// One slot's private state, handed to [`Workload::generate`](crate::Workload::generate).
#[derive(Debug)]
pub struct Slot {
    /// `process % concurrency`, the last term of every value this slot writes.
    id: u64,
    /// The number of slots: the step between two values of one slot.
    stride: u64,
    /// The process the op being generated is for.
    process: u64,
    rng: ChaCha8Rng,
    /// How many values this slot has handed out.
    counter: u64,
    /// The last value this slot wrote (or tried to) per key index.
    last_written: HashMap<usize, u64>,
    /// How many elements this slot has put into bounded keys ([`crate::keys`]).
    elements: u64,
}

impl Slot {
    /// The slot's random stream: everything a workload draws comes from here.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Draws whether the next op (or micro-op) is a read, with probability `ratio` (clamped
    /// to `[0, 1]`; NaN counts as 0).
    pub fn reads(&mut self, ratio: f64) -> bool {
        let p = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        self.rng.gen_bool(p)
    }

    /// The next value of this slot: `counter * concurrency + slot`, unique across slots.
    pub fn fresh_value(&mut self) -> u64 {
        let value = self.counter.wrapping_mul(self.stride).wrapping_add(self.id);
        self.counter += 1;
        value
    }

    /// The last value this slot wrote to key `index`, if any.
    pub fn last_written(&self, index: usize) -> Option<u64> {
        self.last_written.get(&index).copied()
    }

    /// Remembers that this slot wrote `value` to key `index`.
    pub fn remember_written(&mut self, index: usize, value: u64) {
        self.last_written.insert(index, value);
    }

    /// The key number this slot's next element goes to, under `cfg`'s bounded keys (see
    /// [`crate::keys`]); counts the element and notes the key in [`WorkloadConfig::keys_used`].
    pub fn element_key(&mut self, cfg: &WorkloadConfig) -> usize {
        let rotation = cfg.rotation();
        let n = rotation.write_key(self.elements);
        self.elements += 1;
        cfg.keys_used.note(n);
        // Keys of generations this slot has left are written no more: forget their values.
        let first = rotation.keys_in_use(self.elements - 1).start;
        if self.last_written.keys().any(|&k| k < first) {
            self.last_written.retain(|&k, _| k >= first);
        }
        n
    }

    /// One of this slot's keys in use, at random: where its reads go. In use means the keys of
    /// the generation its latest element went to (the first generation before any).
    pub fn key_in_use(&mut self, cfg: &WorkloadConfig) -> usize {
        let latest = self.elements.saturating_sub(1);
        let n = self.rng.gen_range(cfg.rotation().keys_in_use(latest));
        cfg.keys_used.note(n);
        n
    }
}

/// Produces invocations for every client process of one run.
#[derive(Debug)]
pub struct Generator {
    cfg: WorkloadConfig,
    seed: u64,
    slots: HashMap<u64, Slot>,
}

impl Generator {
    /// A generator for `cfg`'s workload; the same `seed` gives every slot the same ops.
    pub fn new(cfg: &WorkloadConfig, seed: u64) -> Self {
        Generator {
            cfg: cfg.clone(),
            seed,
            slots: HashMap::new(),
        }
    }

    /// The next invocation of `process`: index 0 and time 0 (the harness stamps both), `f`,
    /// `key`, `value` and `wait`/`waitaof` set by the workload, and in a cluster the `slot`
    /// its keys are in; `node` is left for the completion.
    pub fn next_op(&mut self, process: u64) -> Op {
        let stride = self.cfg.slots();
        let slot_id = process % stride;
        let seed = self.seed;
        let slot = self.slots.entry(slot_id).or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(slot_id);
            Slot {
                id: slot_id,
                stride,
                process,
                rng,
                counter: 0,
                last_written: HashMap::new(),
                elements: 0,
            }
        });
        slot.process = process;
        let mut op = self.cfg.workload.generate(slot, &self.cfg);
        op.process = Process::Client(slot.process);
        if self.cfg.is_cluster() {
            op.slot = self.cfg.slot_of(&op);
        }
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{list_append, register, wait, Workload, ALL};
    use std::collections::HashSet;

    fn cfg(workload: &'static dyn Workload) -> WorkloadConfig {
        WorkloadConfig {
            cas: true,
            ..WorkloadConfig::new(workload)
        }
    }

    /// Ops of processes 0..10 in a given interleaving; the per-process sequences are returned.
    fn run(kind: &'static dyn Workload, seed: u64, order: &[u64]) -> HashMap<u64, Vec<Op>> {
        let mut generator = Generator::new(&cfg(kind), seed);
        let mut out: HashMap<u64, Vec<Op>> = HashMap::new();
        for &p in order {
            out.entry(p).or_default().push(generator.next_op(p));
        }
        out
    }

    #[test]
    fn same_seed_same_ops_whatever_the_interleaving() {
        let forward: Vec<u64> = (0..200).map(|i| i % 5).collect();
        let mut skewed: Vec<u64> = (0..200).map(|i| (i * 7 + i / 3) % 5).collect();
        skewed.sort_by_key(|p| std::cmp::Reverse(*p));
        for &kind in ALL {
            let a = run(kind, 42, &forward);
            let b = run(kind, 42, &skewed);
            for p in 0..5 {
                let n = a[&p].len().min(b[&p].len());
                assert!(n > 10);
                assert_eq!(a[&p][..n], b[&p][..n], "{kind:?} process {p}");
            }
            let c = run(kind, 43, &forward);
            assert_ne!(a, c, "{kind:?}: another seed gives other ops");
        }
    }

    #[test]
    fn written_values_are_unique_across_processes_and_increase_per_slot_and_key() {
        for &kind in ALL {
            let mut generator = Generator::new(&cfg(kind), 7);
            let mut seen = HashSet::new();
            let mut last: HashMap<(u64, String), u64> = HashMap::new();
            // Process 12 continues slot 2 after an info: it shares slot 2's counter.
            for i in 0..2000u64 {
                let p = if i % 5 == 2 && i > 1000 { 12 } else { i % 5 };
                let op = generator.next_op(p);
                for (key, v) in written(&op) {
                    assert!(seen.insert(v), "{kind:?}: value {v} issued twice");
                    assert_eq!(v % 5, p % 5, "{kind:?}: value carries its slot");
                    if let Some(prev) = last.insert((p % 5, key.clone()), v) {
                        assert!(v > prev, "{kind:?}: {key} went from {prev} to {v}");
                    }
                }
            }
            if kind.name() != "counter" {
                assert!(seen.len() > 500, "{kind:?}: only {} writes", seen.len());
            }
        }
    }

    /// (key, value) of every value `op` writes.
    fn written(op: &Op) -> Vec<(String, u64)> {
        let key = op.key.as_deref().unwrap_or_default().to_string();
        match op.f.as_str() {
            "add" | "write" => vec![(key, op.value.as_u64().unwrap())],
            "cas" => vec![(key, op.value[1].as_u64().unwrap())],
            "txn" => op
                .value
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m[0] == "append")
                .map(|m| (m[1].to_string(), m[2].as_u64().unwrap()))
                .collect(),
            _ => vec![],
        }
    }

    #[test]
    fn ops_have_the_shape_of_their_workload() {
        let mut generator = Generator::new(&cfg(&wait::Wait), 1);
        let ops: Vec<Op> = (0..50).map(|i| generator.next_op(i % 3)).collect();
        assert!(ops.iter().all(|o| o.key.as_deref() == Some("set")));
        let add = ops.iter().find(|o| o.f == "add").unwrap();
        assert_eq!(
            add.wait.as_ref().map(|w| (w.replicas, w.timeout_ms)),
            Some((1, 500))
        );
        assert!(ops
            .iter()
            .filter(|o| o.f == "read")
            .all(|o| o.wait.is_none()));

        let mut generator = Generator::new(&cfg(&register::Register), 1);
        let ops: Vec<Op> = (0..200).map(|i| generator.next_op(i % 3)).collect();
        let fs: HashSet<&str> = ops.iter().map(|o| o.f.as_str()).collect();
        assert_eq!(fs, HashSet::from(["read", "write", "cas"]));
        assert!(ops
            .iter()
            .filter(|o| o.f == "cas")
            .any(|o| o.value[0].is_null()));
        assert!(ops
            .iter()
            .filter(|o| o.f == "cas")
            .any(|o| o.value[0].is_u64()));

        let mut generator = Generator::new(&cfg(&list_append::ListAppend), 1);
        let mut appends: HashMap<u64, usize> = HashMap::new();
        for i in 0..100 {
            let op = generator.next_op(i % 3);
            let micro = op.value.as_array().unwrap();
            assert!((1..=4).contains(&micro.len()));
            assert!(micro.iter().all(|m| m[1].as_u64().is_some()));
            for m in micro.iter().filter(|m| m[0] == "append") {
                *appends.entry(m[1].as_u64().unwrap()).or_default() += 1;
            }
        }
        // 8 lists in use, 32 elements each at most: the appends moved on to fresh lists.
        assert!(appends.len() > 8, "{appends:?}");
        assert!(appends.values().all(|&n| n <= 32), "{appends:?}");
    }

    /// A set fills up to `--set-size` elements, then adds move to a fresh set; reads go to
    /// the sets being written, and the final reads cover every set used.
    #[test]
    fn sets_move_to_fresh_keys_and_reads_follow() {
        let cfg = WorkloadConfig {
            set_size: Some(20),
            concurrency: 4,
            ..WorkloadConfig::new(&crate::workload::set::Set)
        };
        let mut generator = Generator::new(&cfg, 3);
        let mut adds: HashMap<String, usize> = HashMap::new();
        let mut current: HashMap<u64, String> = HashMap::new();
        for i in 0..400u64 {
            let p = i % 4;
            let op = generator.next_op(p);
            let key = op.key.as_deref().unwrap().to_string();
            if op.f == "add" {
                *adds.entry(key.clone()).or_default() += 1;
                current.insert(p, key);
            } else if let Some(writing) = current.get(&p) {
                assert_eq!(&key, writing, "process {p} reads the set it writes");
            }
        }
        assert!(adds.len() > 10, "{adds:?}");
        assert!(adds.values().all(|&n| n <= 20), "{adds:?}");
        assert!(adds.contains_key("set") && adds.contains_key("set1"));
        let finals: Vec<String> = crate::workload::set::final_reads(&cfg)
            .into_iter()
            .filter_map(|op| Some(op.key?.to_string()))
            .collect();
        assert!(adds.keys().all(|k| finals.contains(k)), "{finals:?}");
        assert_eq!(finals.len(), cfg.keys_used.count());
    }

    /// Registers move on after `--set-size` writes each; a cas on a fresh register expects it
    /// absent, and the final reads cover every register used.
    #[test]
    fn registers_move_on_and_cas_starts_fresh() {
        let cfg = WorkloadConfig {
            set_size: Some(10),
            concurrency: 2,
            ..cfg(&register::Register)
        };
        let mut generator = Generator::new(&cfg, 5);
        let mut writes: HashMap<String, usize> = HashMap::new();
        let mut first_cas_seen = HashSet::new();
        for i in 0..600u64 {
            let op = generator.next_op(i % 2);
            let key = op.key.as_deref().unwrap().to_string();
            if op.f == "read" {
                continue;
            }
            *writes.entry(key.clone()).or_default() += 1;
            if op.f == "cas" && first_cas_seen.insert((i % 2, key.clone())) {
                let fresh = writes[&key] == 1;
                assert!(!fresh || op.value[0].is_null(), "{op:?}");
            }
        }
        assert!(writes.len() > 8, "{writes:?}");
        assert!(writes.values().all(|&n| n <= 10), "{writes:?}");
        let finals = register::Register.final_reads(&cfg);
        assert_eq!(finals.len(), cfg.keys_used.count());
    }
}
