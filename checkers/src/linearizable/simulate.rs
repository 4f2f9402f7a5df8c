//! Histories of a simulated atomic register, for tests and benchmarks of the checker.
//!
//! Each key is an ideal register: every op takes effect at one instant inside its interval (an
//! `info` write or cas at any instant after its invocation, or never), so the history is
//! linearizable by construction. Optionally one read is made stale (it returns a value that a
//! later write had already replaced before the read began), which makes the history certainly
//! not linearizable: with values unique, that read would have to sit between two writes that
//! real time orders before it. Deterministic for a seed (SplitMix64, no dependencies).

use crate::history::{Op, OpType, Process};
use serde_json::{json, Value as Json};

/// The shape of a simulated history.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub keys: usize,
    pub ops_per_key: usize,
    /// Concurrent client processes per key.
    pub processes: usize,
    /// Fractions of ops that are reads and cas (the rest are writes).
    pub read_rate: f64,
    pub cas_rate: f64,
    /// Fraction of ops that end `info` (half of those info writes/cas take effect).
    pub info_rate: f64,
    /// Fraction of writes that end `fail` (and did not take effect).
    pub fail_rate: f64,
    /// Info writes invoked together at the start of each key, taking effect (or not) at random
    /// points of the whole run: the classic blow-up of WGL search.
    pub info_burst: usize,
    /// Make one read of key 0 stale (the history is then not linearizable).
    pub stale_read: bool,
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            keys: 1,
            ops_per_key: 100,
            processes: 5,
            read_rate: 0.5,
            cas_rate: 0.0,
            info_rate: 0.05,
            fail_rate: 0.02,
            info_burst: 0,
            stale_read: false,
            seed: 1,
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Read,
    Write(i64),
    Cas(Option<i64>, i64),
}

struct SimOp {
    process: u64,
    kind: Kind,
    start: u64,
    end: u64,
    /// When it takes effect; `None`: it never does.
    lin: Option<u64>,
    outcome: OpType,
    /// What a read returned / whether a cas matched (filled by `apply`).
    read: Option<i64>,
    matched: bool,
}

/// A simulated history (all keys merged in time order, indices dense).
pub fn simulate(cfg: &SimConfig) -> Vec<Op> {
    let mut rng = Rng(cfg.seed ^ 0x5EED);
    let mut records: Vec<(u64, u64, Op)> = Vec::new();
    for k in 0..cfg.keys {
        let mut ops = key_ops(cfg, k as u64, &mut rng);
        apply(&mut ops);
        if cfg.stale_read && k == 0 {
            make_stale(&mut ops, &mut rng);
        }
        render(&ops, &format!("r{k}"), &mut records);
    }
    records.sort_by_key(|(t, seq, _)| (*t, *seq));
    records
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut op))| {
            op.index = i as u64;
            op
        })
        .collect()
}

const MS: u64 = 1_000_000;

fn key_ops(cfg: &SimConfig, key: u64, rng: &mut Rng) -> Vec<SimOp> {
    let base = key * 1_000_000;
    let mut next_id = base + cfg.processes as u64;
    let mut procs: Vec<(u64, u64)> = (0..cfg.processes as u64).map(|p| (base + p, 0)).collect();
    let mut ops = Vec::with_capacity(cfg.ops_per_key);
    let mut next_value: i64 = 1;
    let mut written: Vec<i64> = Vec::new();
    let span = cfg.ops_per_key as u64 * 2 * MS / cfg.processes.max(1) as u64 + MS;
    for _ in 0..cfg.info_burst.min(cfg.ops_per_key) {
        let start = rng.below(cfg.info_burst as u64 * MS / 10 + 1);
        let lin = rng.chance(0.5).then(|| start + rng.below(span));
        ops.push(SimOp {
            process: next_id,
            kind: Kind::Write(next_value),
            start,
            end: start + 5 * MS,
            lin,
            outcome: OpType::Info,
            read: None,
            matched: false,
        });
        written.push(next_value);
        next_id += 1;
        next_value += 1;
    }
    while ops.len() < cfg.ops_per_key && !procs.is_empty() {
        let slot = (0..procs.len()).min_by_key(|&i| procs[i].1).unwrap_or(0);
        let (process, free_at) = procs[slot];
        let start = free_at + rng.below(MS);
        let end = start + 1 + rng.below(3 * MS);
        let kind = if rng.chance(cfg.read_rate) {
            Kind::Read
        } else if rng.chance(cfg.cas_rate / (1.0 - cfg.read_rate).max(1e-9)) {
            let old = match written.last() {
                Some(&v) if !rng.chance(0.3) => Some(v),
                _ if written.is_empty() => None,
                _ => Some(written[rng.below(written.len() as u64) as usize]),
            };
            next_value += 1;
            Kind::Cas(old, next_value - 1)
        } else {
            next_value += 1;
            Kind::Write(next_value - 1)
        };
        if let Kind::Write(v) | Kind::Cas(_, v) = kind {
            written.push(v);
        }
        let (outcome, lin) = if rng.chance(cfg.info_rate) {
            let lin = rng
                .chance(0.5)
                .then(|| start + rng.below(10 * (end - start) + 1));
            (OpType::Info, lin)
        } else if kind != Kind::Read && rng.chance(cfg.fail_rate) {
            (OpType::Fail, None)
        } else {
            (OpType::Ok, Some(start + rng.below(end - start + 1)))
        };
        procs[slot].1 = end + 1;
        if outcome == OpType::Info {
            procs[slot].0 = next_id;
            next_id += 1;
        }
        ops.push(SimOp {
            process,
            kind,
            start,
            end,
            lin,
            outcome,
            read: None,
            matched: false,
        });
    }
    ops
}

/// Runs the ideal register over the ops in linearization order, filling in reads and cas.
fn apply(ops: &mut [SimOp]) {
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].lin.is_some()).collect();
    order.sort_by_key(|&i| (ops[i].lin, i));
    let mut state: Option<i64> = None;
    for i in order {
        match ops[i].kind {
            Kind::Read => ops[i].read = state,
            Kind::Write(v) => state = Some(v),
            Kind::Cas(old, new) => {
                ops[i].matched = state == old;
                if ops[i].matched {
                    state = Some(new);
                }
            }
        }
    }
}

/// Makes one ok read return a value superseded before it began (or nil after a write).
fn make_stale(ops: &mut [SimOp], rng: &mut Rng) {
    let writes: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].outcome == OpType::Ok && matches!(ops[i].kind, Kind::Write(_)))
        .collect();
    let reads: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].outcome == OpType::Ok && ops[i].kind == Kind::Read)
        .collect();
    let offset = rng.below(reads.len() as u64 + 1) as usize;
    for r in reads.iter().cycle().skip(offset).take(reads.len()) {
        let r = *r;
        // w1 precedes w2 precedes r: the read cannot return w1's value.
        if let Some(&w2) = writes.iter().find(|&&w| ops[w].end < ops[r].start) {
            let w1 = writes.iter().find(|&&w| ops[w].end < ops[w2].start);
            ops[r].read = match w1.map(|&w| ops[w].kind) {
                Some(Kind::Write(v)) => Some(v),
                _ => None,
            };
            return;
        }
    }
}

fn render(ops: &[SimOp], key: &str, out: &mut Vec<(u64, u64, Op)>) {
    for (i, op) in ops.iter().enumerate() {
        let (f, value) = match op.kind {
            Kind::Read => ("read", Json::Null),
            Kind::Write(v) => ("write", json!(v)),
            Kind::Cas(old, new) => ("cas", json!([old, new])),
        };
        let mut invoke = Op::new(0, op.start, Process::Client(op.process), OpType::Invoke, f);
        invoke.key = Some(key.to_string());
        invoke.value = value.clone();
        let seq = out.len() as u64 + i as u64;
        out.push((op.start, seq * 2, invoke.clone()));
        let mut done = invoke;
        done.time = op.end;
        done.op_type = op.outcome;
        match (op.kind, op.outcome) {
            (Kind::Read, OpType::Ok) => done.value = op.read.map_or(Json::Null, |v| json!(v)),
            (Kind::Cas(..), OpType::Ok) if !op.matched => {
                done.op_type = OpType::Fail;
                done.error = Some("mismatch".to_string());
            }
            (_, OpType::Info) => done.error = Some("timeout".to_string()),
            (_, OpType::Fail) => done.error = Some("READONLY".to_string()),
            _ => {}
        }
        out.push((op.end, seq * 2 + 1, done));
    }
}
