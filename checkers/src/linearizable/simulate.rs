//! Seeded histories of a simulated atomic register, for tests and benchmarks of the checker
//! (`examples/gen_register_history.rs` writes them as JSONL).
//!
//! Each key is an ideal register driven by `processes` clients. A client waits up to 1 ms,
//! invokes an op that lasts up to 3 ms, and the op takes effect at one instant inside its
//! interval, so the history is linearizable by construction. Written values are unique per key.
//! A write or cas may end `info` (its client timed out): a fraction of those take effect at an
//! instant after their invocation (possibly after the timeout), the rest never do, and the
//! client continues as a new process, as DESIGN.md says. A cas compares against the latest
//! written value or, 30% of the time, one of the ten before it (as a client whose last read
//! lost a race with other writers), and then fails with `mismatch`.
//!
//! A [`Variant`] plants one anomaly in key 0, which makes the history certainly not
//! linearizable: with values unique, a read can only sit between the write of its value and
//! the next write, and the planted read has no such place. Deterministic for a seed
//! (SplitMix64, no dependencies).

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
    /// Fraction of writes and cas that end `info`.
    pub info_rate: f64,
    /// Fraction of the `info` writes and cas that took effect.
    pub info_effect: f64,
    /// Fraction of writes that end `fail` (and did not take effect).
    pub fail_rate: f64,
    /// Info writes invoked together at the start of each key, taking effect (or not) at random
    /// points of the whole run: the classic blow-up of WGL search.
    pub info_burst: usize,
    /// An anomaly planted in key 0.
    pub variant: Variant,
    pub seed: u64,
}

/// A planted anomaly: the op of key 0 nearest to `at` (a fraction of its ops) that allows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Variant {
    /// None: the history is linearizable.
    Linearizable,
    /// An ok read returns a value overwritten long before: by a write about 100 writes before
    /// the read, all completed before the read began (nil if there is no such older value).
    StaleRead { at: f64 },
    /// An ok read returns the value of a write invoked only after the read completed.
    FutureRead { at: f64 },
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
            info_effect: 0.5,
            fail_rate: 0.02,
            info_burst: 0,
            variant: Variant::Linearizable,
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
        if k == 0 {
            plant(&mut ops, cfg.variant);
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
    let base = key * 1_000_000_000;
    let mut next_id = base + cfg.processes as u64;
    let mut procs: Vec<(u64, u64)> = (0..cfg.processes as u64).map(|p| (base + p, 0)).collect();
    let mut ops = Vec::with_capacity(cfg.ops_per_key);
    let mut written: Vec<i64> = Vec::new();
    let span = cfg.ops_per_key as u64 * 2 * MS / cfg.processes.max(1) as u64 + MS;
    for _ in 0..cfg.info_burst.min(cfg.ops_per_key) {
        let start = rng.below(cfg.info_burst as u64 * MS / 10 + 1);
        let lin = rng.chance(0.5).then(|| start + rng.below(span));
        written.push(written.len() as i64 + 1);
        ops.push(SimOp {
            process: next_id,
            kind: Kind::Write(written.len() as i64),
            start,
            end: start + 5 * MS,
            lin,
            outcome: OpType::Info,
            read: None,
            matched: false,
        });
        next_id += 1;
    }
    while ops.len() < cfg.ops_per_key && !procs.is_empty() {
        let slot = (0..procs.len()).min_by_key(|&i| procs[i].1).unwrap_or(0);
        let (process, free_at) = procs[slot];
        let start = free_at + rng.below(MS);
        let end = start + 1 + rng.below(3 * MS);
        let kind = next_kind(cfg, &mut written, rng);
        let (outcome, lin) = if kind != Kind::Read && rng.chance(cfg.info_rate) {
            let lin = rng
                .chance(cfg.info_effect)
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

/// A read, a write of a new value, or a cas to a new value from the latest written value (or,
/// 30% of the time, one of the ten before it).
fn next_kind(cfg: &SimConfig, written: &mut Vec<i64>, rng: &mut Rng) -> Kind {
    if rng.chance(cfg.read_rate) {
        return Kind::Read;
    }
    let new = written.len() as i64 + 1;
    let kind = if rng.chance(cfg.cas_rate / (1.0 - cfg.read_rate).max(1e-9)) {
        let len = written.len();
        let back = if rng.chance(0.3) {
            1 + rng.below(10) as usize
        } else {
            0
        };
        let old = len
            .checked_sub(1 + back.min(len.saturating_sub(1)))
            .map(|i| written[i]);
        Kind::Cas(old, new)
    } else {
        Kind::Write(new)
    };
    written.push(new);
    kind
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

/// How far back (in completed ok writes) a stale read's value was overwritten.
const STALE_BY: usize = 100;

/// Makes the ok read nearest to `at` that allows it return an impossible value.
fn plant(ops: &mut [SimOp], variant: Variant) {
    let at = match variant {
        Variant::Linearizable => return,
        Variant::StaleRead { at } | Variant::FutureRead { at } => at.clamp(0.0, 1.0),
    };
    let mut writes: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].outcome == OpType::Ok && matches!(ops[i].kind, Kind::Write(_)))
        .collect();
    writes.sort_by_key(|&i| ops[i].end);
    let reads: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].outcome == OpType::Ok && ops[i].kind == Kind::Read)
        .collect();
    let from = (at * reads.len() as f64) as usize;
    for &r in reads[from.min(reads.len())..]
        .iter()
        .chain(&reads[..from.min(reads.len())])
    {
        let value = match variant {
            Variant::StaleRead { .. } => stale_value(ops, &writes, r),
            _ => future_value(ops, &writes, r),
        };
        if let Some(v) = value {
            ops[r].read = v;
            return;
        }
    }
}

/// A value for read `r` overwritten long before it began: w1 completed before w2 began, and w2
/// (about STALE_BY writes back) completed before `r` began. `Some(None)` is nil.
fn stale_value(ops: &[SimOp], writes_by_end: &[usize], r: usize) -> Option<Option<i64>> {
    let done = writes_by_end.partition_point(|&w| ops[w].end < ops[r].start);
    let w2 = writes_by_end[done.checked_sub(1)?.saturating_sub(STALE_BY)];
    let w1 = writes_by_end[..done]
        .iter()
        .rev()
        .find(|&&w| ops[w].end < ops[w2].start);
    Some(w1.and_then(|&w| match ops[w].kind {
        Kind::Write(v) => Some(v),
        _ => None,
    }))
}

/// The value of an ok write invoked after read `r` completed.
fn future_value(ops: &[SimOp], writes: &[usize], r: usize) -> Option<Option<i64>> {
    let w = writes
        .iter()
        .filter(|&&w| ops[w].start > ops[r].end)
        .min_by_key(|&&w| ops[w].start)?;
    match ops[*w].kind {
        Kind::Write(v) => Some(Some(v)),
        _ => None,
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
        invoke.key = Some(key.into());
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
                done.error = Some("mismatch".into());
            }
            (_, OpType::Info) => done.error = Some("timeout".into()),
            (_, OpType::Fail) => done.error = Some("READONLY".into()),
            _ => {}
        }
        out.push((op.end, seq * 2 + 1, done));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;
    use crate::linearizable::check;
    use crate::{CheckOptions, Validity};

    fn verdict(cfg: &SimConfig) -> Validity {
        let h = History::new(simulate(cfg)).expect("simulated history pairs");
        let opts = CheckOptions {
            reads_from_master: Some(true),
            ..CheckOptions::default()
        };
        check(&h, &opts).valid
    }

    #[test]
    fn planted_reads_break_linearizability_and_nothing_else_does() {
        let cfg = SimConfig {
            ops_per_key: 2_000,
            processes: 10,
            cas_rate: 0.1,
            info_rate: 0.1,
            ..SimConfig::default()
        };
        assert_eq!(verdict(&cfg), Validity::Valid);
        for variant in [
            Variant::StaleRead { at: 0.5 },
            Variant::FutureRead { at: 0.5 },
        ] {
            let bad = SimConfig {
                variant,
                ..cfg.clone()
            };
            assert_eq!(verdict(&bad), Validity::Invalid, "{variant:?}");
        }
    }
}
