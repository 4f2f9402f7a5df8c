//! Properties of the linearizable checker: agreement with a brute-force checker on small random
//! histories (repeated values, info ops, cas with mismatch fails, quiescent points between
//! rounds of ops), and the right verdict on simulated registers with and without a stale read.

use proptest::prelude::*;
use redline_checkers::history::{History, Op, OpType, Process};
use redline_checkers::linearizable::check;
use redline_checkers::linearizable::simulate::{simulate, SimConfig, Variant};
use redline_checkers::{CheckOptions, Validity};
use serde_json::{json, Value};
use std::time::Duration;

/// A small op for the brute-force checker: values in 0..4, 0 meaning nil.
#[derive(Debug, Clone)]
struct Small {
    f: u8, // 0 read, 1 write, 2 cas
    a: u8,
    b: u8,
    start: u64,
    len: u64,
    outcome: u8, // 0 ok, 1 info, 2 fail (mismatch for cas)
}

fn small() -> impl Strategy<Value = Small> {
    op_with(prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)])
}

/// Ops of which a third are `info`: which of them took effect is what the search must guess.
fn info_heavy() -> impl Strategy<Value = Small> {
    op_with(prop_oneof![2 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)])
}

/// Writes, many of them `info`, and cas ops that mostly fail with a mismatch: which info write
/// made each mismatch possible is what the search must guess.
fn mismatch_heavy() -> impl Strategy<Value = Small> {
    (
        prop_oneof![2 => Just(1u8), 3 => Just(2u8)],
        0u8..4,
        1u8..4,
        0u64..12,
        0u64..6,
        prop_oneof![1 => Just(0u8), 1 => Just(1u8), 2 => Just(2u8)],
    )
        .prop_map(|(f, a, b, start, len, outcome)| Small {
            f,
            a,
            b,
            start,
            len,
            outcome,
        })
}

fn op_with(outcome: impl Strategy<Value = u8>) -> impl Strategy<Value = Small> {
    (0u8..3, 0u8..4, 1u8..4, 0u64..12, 0u64..6, outcome).prop_map(
        |(f, a, b, start, len, outcome)| Small {
            f,
            a,
            b,
            start,
            len,
            outcome,
        },
    )
}

fn val(v: u8) -> Value {
    if v == 0 {
        Value::Null
    } else {
        json!(v)
    }
}

/// One process per op, so any intervals are allowed.
fn history(ops: &[Small]) -> History {
    let mut recs: Vec<(u64, u64, Op)> = Vec::new();
    for (p, s) in ops.iter().enumerate() {
        let f = ["read", "write", "cas"][s.f as usize];
        let value = match s.f {
            0 => Value::Null,
            1 => json!(s.b),
            _ => json!([val(s.a), s.b]),
        };
        let mut inv = Op::new(0, s.start, Process::Client(p as u64), OpType::Invoke, f);
        inv.key = Some("r".into());
        inv.value = value;
        let mut done = inv.clone();
        done.time = s.start + s.len;
        done.op_type = [OpType::Ok, OpType::Info, OpType::Fail][s.outcome as usize];
        if s.f == 0 && s.outcome == 0 {
            done.value = val(s.a);
        }
        if s.f == 2 && s.outcome == 2 {
            done.error = Some("mismatch".into());
        }
        recs.push((inv.time, 2 * p as u64, inv));
        recs.push((done.time, 2 * p as u64 + 1, done));
    }
    recs.sort_by_key(|(t, seq, _)| (*t, *seq));
    let ops = recs
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut o))| {
            o.index = i as u64;
            o
        })
        .collect();
    History::new(ops).expect("generated history pairs")
}

/// Tries every order consistent with real time; info ops may be left out, failed ops are.
fn brute_force(ops: &[Small]) -> bool {
    // (required, is mismatch cas) per op; info reads and plain fails are out.
    let live: Vec<usize> = (0..ops.len())
        .filter(|&i| match (ops[i].f, ops[i].outcome) {
            (0, 1 | 2) => false, // an info or failed read returned nothing
            (1, 2) => false,     // a failed write did not happen
            _ => true,
        })
        .collect();
    fn step(s: &Small, state: u8) -> Option<u8> {
        match (s.f, s.outcome) {
            (0, _) => (state == s.a).then_some(state),
            (1, _) => Some(s.b),
            (2, 2) => (state != s.a).then_some(state),
            _ => (state == s.a).then_some(s.b),
        }
    }
    fn go(ops: &[Small], live: &[usize], done: &mut Vec<bool>, state: u8) -> bool {
        let all = live.iter().all(|&i| done[i] || ops[i].outcome == 1);
        if all {
            return true;
        }
        for &i in live {
            if done[i] {
                continue;
            }
            // Every determinate op that completed before i began must already be done.
            let blocked = live.iter().any(|&j| {
                !done[j]
                    && j != i
                    && ops[j].outcome != 1
                    && ops[j].start + ops[j].len < ops[i].start
            });
            if blocked {
                continue;
            }
            if let Some(next) = step(&ops[i], state) {
                done[i] = true;
                if go(ops, live, done, next) {
                    return true;
                }
                done[i] = false;
            }
        }
        false
    }
    go(ops, &live, &mut vec![false; ops.len()], 0)
}

fn opts() -> CheckOptions {
    CheckOptions {
        reads_from_master: Some(true),
        linearizable_time_budget: Duration::from_secs(30),
        ..CheckOptions::default()
    }
}

/// Ops in rounds of one to three, each round starting after the previous one's invocations,
/// so that nothing may be open between some rounds (a quiescent point); writes and cas write
/// values unique in the history, reads and compares pick among the values written anywhere.
fn rounds() -> impl Strategy<Value = Vec<Small>> {
    let round = prop::collection::vec(
        (
            0u8..3,
            0u8..8,
            0u64..4,
            0u64..8,
            prop_oneof![5 => Just(0u8), 1 => Just(1u8), 2 => Just(2u8)],
        ),
        1..=3,
    );
    prop::collection::vec(round, 1..=4).prop_map(|rounds| {
        let mut ops = Vec::new();
        let mut next_value = 1u8;
        for (r, round) in rounds.into_iter().enumerate() {
            for (f, pick, offset, len, outcome) in round {
                let b = next_value;
                if f != 0 {
                    next_value += 1;
                }
                ops.push(Small {
                    f,
                    a: pick % 9,
                    b,
                    start: 10 * r as u64 + offset,
                    len,
                    outcome,
                });
            }
        }
        ops
    })
}

fn agree(ops: &[Small]) -> Result<(), TestCaseError> {
    let h = history(ops);
    let r = check(&h, &opts());
    if r.skipped.is_some() {
        return Ok(());
    }
    let expected = if brute_force(ops) {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    prop_assert_eq!(r.valid, expected, "{:#?}", r);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn agrees_with_brute_force(ops in prop::collection::vec(small(), 1..=8)) {
        agree(&ops)?;
    }

    #[test]
    fn agrees_with_brute_force_on_rounds_of_unique_values(ops in rounds()) {
        agree(&ops)?;
    }

    #[test]
    fn agrees_with_brute_force_with_many_info_ops(ops in prop::collection::vec(info_heavy(), 2..=10)) {
        agree(&ops)?;
    }

    #[test]
    fn agrees_with_brute_force_on_mismatch_cas(ops in prop::collection::vec(mismatch_heavy(), 2..=10)) {
        agree(&ops)?;
    }
}

fn sim(seed: u64, stale: bool, cas: bool) -> SimConfig {
    SimConfig {
        keys: 3,
        ops_per_key: 150,
        processes: 1 + (seed % 12) as usize,
        cas_rate: if cas { 0.25 } else { 0.0 },
        read_rate: 0.4,
        info_rate: 0.2,
        info_burst: (seed % 4) as usize * 5,
        variant: match (stale, seed % 2) {
            (false, _) => Variant::Linearizable,
            (true, 0) => Variant::StaleRead {
                at: (seed % 100) as f64 / 100.0,
            },
            (true, _) => Variant::FutureRead {
                at: (seed % 100) as f64 / 100.0,
            },
        },
        seed,
        ..SimConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn simulated_atomic_register_is_linearizable(seed in any::<u64>(), cas in any::<bool>()) {
        let h = History::new(simulate(&sim(seed, false, cas))).expect("simulated history");
        let r = check(&h, &opts());
        prop_assert_eq!(r.valid, Validity::Valid, "{:#?}", r);
    }

    #[test]
    fn one_planted_read_is_caught(seed in any::<u64>(), cas in any::<bool>()) {
        // Never `true`. A few seeds with 12 processes, a burst of info writes and cas exceed
        // the (short, debug-build) budget and are `unknown`: the search cost this property
        // does not bound (see the report); every decided run must blame key r0 alone.
        let h = History::new(simulate(&sim(seed, true, cas))).expect("simulated history");
        let opts = CheckOptions { linearizable_time_budget: Duration::from_secs(5), ..opts() };
        let r = check(&h, &opts);
        prop_assert_ne!(r.valid, Validity::Valid, "{:#?}", r);
        if r.valid == Validity::Invalid {
            prop_assert_eq!(r.anomalies.len(), 1);
            prop_assert_eq!(r.anomalies[0].key.as_deref(), Some("r0"));
            prop_assert!(r.anomalies[0].explanation.contains("cannot be linearized"));
        }
    }
}
