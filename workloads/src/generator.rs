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
use redline_checkers::history::WaitAofInfo;
use redline_checkers::history::WaitInfo;
use redline_checkers::{Function, Op, OpType, Process, WorkloadKind};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The Redis key of set `index` when the workload uses `count` sets: `set`, or `set0`, `set1`...
pub fn set_key(index: usize, count: usize) -> String {
    if count <= 1 {
        "set".to_string()
    } else {
        format!("set{index}")
    }
}

/// The Redis key of register `index`: `r0`, `r1`, ...
pub fn register_key(index: usize) -> String {
    format!("r{index}")
}

/// The Redis key of counter `index` when there are `count`: `counter`, or `counter0`, ...
pub fn counter_key(index: usize, count: usize) -> String {
    if count <= 1 {
        "counter".to_string()
    } else {
        format!("counter{index}")
    }
}

/// The Redis key of list-append key `k` (histories use the integer, Elle style): `la:k`.
pub fn list_key(k: u64) -> String {
    format!("la:{k}")
}

/// The history keys a workload writes, as used by final reads: every set, register or counter.
/// List-append has no `key` field (its keys live in the micro-ops), so this is empty for it.
pub fn history_keys(cfg: &WorkloadConfig) -> Vec<String> {
    let n = cfg.key_count();
    match cfg.kind {
        WorkloadKind::Set | WorkloadKind::Wait | WorkloadKind::WaitAof => {
            (0..n).map(|i| set_key(i, n)).collect()
        }
        WorkloadKind::Register => (0..n).map(register_key).collect(),
        WorkloadKind::Counter => (0..n).map(|i| counter_key(i, n)).collect(),
        WorkloadKind::ListAppend => Vec::new(),
    }
}

/// One slot's private state.
#[derive(Debug)]
struct Slot {
    /// `process % concurrency`, the last term of every value this slot writes.
    id: u64,
    rng: ChaCha8Rng,
    /// How many values this slot has handed out.
    counter: u64,
    /// Register workload: the last value this slot wrote (or tried to) per key, the `old` of a
    /// later cas. A guess: another process may have written since, then the cas fails.
    last_written: HashMap<usize, u64>,
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
    /// `key`, `value` and `wait`/`waitaof` set; `node` is left for the completion.
    pub fn next_op(&mut self, process: u64) -> Op {
        let slot_id = process % self.cfg.slots();
        let seed = self.seed;
        let slot = self.slots.entry(slot_id).or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(slot_id);
            Slot {
                id: slot_id,
                rng,
                counter: 0,
                last_written: HashMap::new(),
            }
        });
        let cfg = &self.cfg;
        let mut op = Op::new(
            0,
            0,
            Process::Client(process),
            OpType::Invoke,
            Function::Read,
        );
        let read = slot.rng.gen_bool(cfg.read_ratio.clamp(0.0, 1.0));
        let n = cfg.key_count();
        match cfg.kind {
            WorkloadKind::Set | WorkloadKind::Wait | WorkloadKind::WaitAof => {
                op.key = Some(set_key(slot.rng.gen_range(0..n), n));
                if !read {
                    op.f = Function::Add;
                    op.value = json!(fresh_value(slot, cfg));
                    attach_wait(&mut op, cfg);
                }
            }
            WorkloadKind::Register => register_op(&mut op, slot, cfg, read),
            WorkloadKind::Counter => {
                op.key = Some(counter_key(slot.rng.gen_range(0..n), n));
                if !read {
                    op.f = Function::Incr;
                    op.value = json!(1);
                }
            }
            WorkloadKind::ListAppend => {
                op.f = Function::Txn;
                op.value = txn_value(slot, cfg);
            }
        }
        op
    }
}

/// The next value of a slot: `counter * concurrency + slot`, unique across slots.
fn fresh_value(slot: &mut Slot, cfg: &WorkloadConfig) -> u64 {
    let value = slot.counter * cfg.slots() + slot.id;
    slot.counter += 1;
    value
}

/// WAIT/WAITAOF parameters on an add of the wait/waitaof workloads.
fn attach_wait(op: &mut Op, cfg: &WorkloadConfig) {
    match cfg.kind {
        WorkloadKind::Wait => {
            op.wait = Some(WaitInfo {
                replicas: cfg.wait_replicas,
                timeout_ms: cfg.wait_timeout_ms,
                acked: None,
            })
        }
        WorkloadKind::WaitAof => {
            op.waitaof = Some(WaitAofInfo {
                local: cfg.waitaof_local,
                replicas: cfg.waitaof_replicas,
                timeout_ms: cfg.wait_timeout_ms,
                acked_local: None,
                acked_replicas: None,
            })
        }
        _ => {}
    }
}

/// Register: a read, a write of a fresh value, or (with `cas`) a cas from this slot's last
/// written value (null if none) to a fresh one. Writes and cas share the non-read half evenly.
fn register_op(op: &mut Op, slot: &mut Slot, cfg: &WorkloadConfig, read: bool) {
    let key = slot.rng.gen_range(0..cfg.key_count());
    op.key = Some(register_key(key));
    if read {
        return;
    }
    let cas = cfg.cas && slot.rng.gen_bool(0.5);
    let old = slot.last_written.get(&key).copied();
    let new = fresh_value(slot, cfg);
    slot.last_written.insert(key, new);
    if cas {
        op.f = Function::Cas;
        op.value = json!([old, new]);
    } else {
        op.f = Function::Write;
        op.value = json!(new);
    }
}

/// list-append: 1..=max_txn_length micro-ops, each a read (`read_ratio`) or an append of a
/// fresh value, on integer keys `0..keys`.
fn txn_value(slot: &mut Slot, cfg: &WorkloadConfig) -> Value {
    let len = slot.rng.gen_range(1..=cfg.max_txn_length.max(1));
    let mut micro_ops = Vec::with_capacity(len);
    for _ in 0..len {
        let k = slot.rng.gen_range(0..cfg.key_count()) as u64;
        if slot.rng.gen_bool(cfg.read_ratio.clamp(0.0, 1.0)) {
            micro_ops.push(json!(["r", k, null]));
        } else {
            micro_ops.push(json!(["append", k, fresh_value(slot, cfg)]));
        }
    }
    Value::Array(micro_ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn cfg(kind: WorkloadKind) -> WorkloadConfig {
        WorkloadConfig {
            cas: true,
            ..WorkloadConfig::for_kind(kind)
        }
    }

    /// Ops of processes 0..10 in a given interleaving; the per-process sequences are returned.
    fn run(kind: WorkloadKind, seed: u64, order: &[u64]) -> HashMap<u64, Vec<Op>> {
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
        for kind in WorkloadKind::ALL {
            let a = run(kind, 42, &forward);
            let b = run(kind, 42, &skewed);
            for p in 0..5 {
                let n = a[&p].len().min(b[&p].len());
                assert!(n > 10);
                assert_eq!(a[&p][..n], b[&p][..n], "{kind} process {p}");
            }
            let c = run(kind, 43, &forward);
            assert_ne!(a, c, "{kind}: another seed gives other ops");
        }
    }

    #[test]
    fn written_values_are_unique_across_processes_and_increase_per_slot_and_key() {
        for kind in WorkloadKind::ALL {
            let mut generator = Generator::new(&cfg(kind), 7);
            let mut seen = HashSet::new();
            let mut last: HashMap<(u64, String), u64> = HashMap::new();
            // Process 12 continues slot 2 after an info: it shares slot 2's counter.
            for i in 0..2000u64 {
                let p = if i % 5 == 2 && i > 1000 { 12 } else { i % 5 };
                let op = generator.next_op(p);
                for (key, v) in written(&op) {
                    assert!(seen.insert(v), "{kind}: value {v} issued twice");
                    assert_eq!(v % 5, p % 5, "{kind}: value carries its slot");
                    if let Some(prev) = last.insert((p % 5, key.clone()), v) {
                        assert!(v > prev, "{kind}: {key} went from {prev} to {v}");
                    }
                }
            }
            if kind != WorkloadKind::Counter {
                assert!(seen.len() > 500, "{kind}: only {} writes", seen.len());
            }
        }
    }

    /// (key, value) of every value `op` writes.
    fn written(op: &Op) -> Vec<(String, u64)> {
        let key = op.key.clone().unwrap_or_default();
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
        let mut generator = Generator::new(&cfg(WorkloadKind::Wait), 1);
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

        let mut generator = Generator::new(&cfg(WorkloadKind::Register), 1);
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

        let mut generator = Generator::new(&cfg(WorkloadKind::ListAppend), 1);
        for i in 0..100 {
            let op = generator.next_op(i % 3);
            let micro = op.value.as_array().unwrap();
            assert!((1..=4).contains(&micro.len()));
            assert!(micro.iter().all(|m| m[1].as_u64().is_some_and(|k| k < 8)));
        }
    }
}
