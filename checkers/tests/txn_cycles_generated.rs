//! Generated list-append histories: a reference in-memory serial executor with concurrent
//! clients must check valid; the same history with injected anomalies must report them.
//!
//! The executor runs each transaction atomically at one instant between its invocation and
//! its completion, so the history is strict serializable and real-time edges abound (clients
//! overlap, and a transaction's effects appear somewhere inside its interval).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redline_checkers::history::{Op, OpType, Process};
use redline_checkers::{txn_cycles, CheckOptions, History, Validity};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Debug builds check a smaller history to keep `cargo test` quick; release builds the full
/// 100,000 transactions.
const TXNS: usize = if cfg!(debug_assertions) {
    20_000
} else {
    100_000
};
const CLIENTS: u64 = 10;

/// A generated transaction, before it becomes two ops.
struct Gen {
    process: u64,
    start: u64,
    end: u64,
    outcome: OpType,
    /// Completion value (reads filled in for ok; as invoked otherwise).
    value: Vec<Value>,
}

/// Runs `n` transactions from `CLIENTS` concurrent clients against an in-memory list store.
fn generate(n: usize, seed: u64) -> Vec<Gen> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut store: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut next_value: HashMap<u64, u64> = HashMap::new();
    let mut first_key = 0u64;
    let mut process_of: Vec<u64> = (0..CLIENTS).collect();
    // In-flight transaction per client: (gen index, executed yet?).
    let mut in_flight: Vec<Option<(usize, bool)>> = vec![None; CLIENTS as usize];
    let mut out: Vec<Gen> = Vec::with_capacity(n);
    let mut clock = 0u64;
    let mut done = 0;
    while done < n {
        clock += 1_000;
        let c = rng.gen_range(0..CLIENTS as usize);
        match in_flight[c] {
            None if out.len() < n => {
                let mops = random_mops(&mut rng, first_key, &mut next_value);
                out.push(Gen {
                    process: process_of[c],
                    start: clock,
                    end: 0,
                    outcome: OpType::Ok,
                    value: mops,
                });
                in_flight[c] = Some((out.len() - 1, false));
                // Keys retire after ~32 appends, as Elle's generator does.
                if next_value.get(&first_key).copied().unwrap_or(0) > 32 {
                    first_key += 1;
                }
            }
            None => {}
            Some((g, false)) => {
                if rng.gen_bool(0.03) {
                    // Aborted before executing.
                    finish(&mut out[g], clock, OpType::Fail);
                    in_flight[c] = None;
                    done += 1;
                } else {
                    execute(&mut out[g].value, &mut store);
                    in_flight[c] = Some((g, true));
                }
            }
            Some((g, true)) => {
                let outcome = if rng.gen_bool(0.01) {
                    OpType::Info
                } else {
                    OpType::Ok
                };
                finish(&mut out[g], clock, outcome);
                if outcome == OpType::Info {
                    process_of[c] += CLIENTS;
                }
                in_flight[c] = None;
                done += 1;
            }
        }
    }
    out
}

fn random_mops(rng: &mut ChaCha8Rng, first_key: u64, next: &mut HashMap<u64, u64>) -> Vec<Value> {
    (0..rng.gen_range(1..=4))
        .map(|_| {
            let k = first_key + rng.gen_range(0..8);
            if rng.gen_bool(0.5) {
                let v = next.entry(k).or_insert(0);
                *v += 1;
                json!(["append", k, *v])
            } else {
                json!(["r", k, null])
            }
        })
        .collect()
}

fn execute(mops: &mut [Value], store: &mut HashMap<u64, Vec<u64>>) {
    for m in mops {
        let k = m[1].as_u64().unwrap();
        if m[0] == "append" {
            store.entry(k).or_default().push(m[2].as_u64().unwrap());
        } else {
            m[2] = json!(store.get(&k).cloned().unwrap_or_default());
        }
    }
}

fn finish(g: &mut Gen, clock: u64, outcome: OpType) {
    g.end = clock;
    g.outcome = outcome;
    if outcome == OpType::Fail {
        for m in &mut g.value {
            if m[0] == "r" {
                m[2] = Value::Null;
            }
        }
    }
}

/// Two ops per transaction, in time order (info ones never complete).
fn to_history(gens: &[Gen]) -> History {
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(gens.len() * 2);
    for (i, g) in gens.iter().enumerate() {
        events.push((g.start, i, false));
        if g.outcome != OpType::Info {
            events.push((g.end, i, true));
        }
    }
    events.sort_unstable();
    let ops = events
        .into_iter()
        .enumerate()
        .map(|(index, (time, i, completion))| {
            let g = &gens[i];
            let (ty, value) = if completion {
                (g.outcome, Value::from(g.value.clone()))
            } else {
                let inv: Vec<Value> = g
                    .value
                    .iter()
                    .map(|m| {
                        if m[0] == "r" {
                            json!(["r", m[1], null])
                        } else {
                            m.clone()
                        }
                    })
                    .collect();
                (OpType::Invoke, Value::from(inv))
            };
            Op {
                value,
                ..Op::new(index as u64, time, Process::Client(g.process), ty, "txn")
            }
        })
        .collect();
    History::new(ops).unwrap()
}

#[test]
fn serial_executor_history_is_valid() {
    let gens = generate(TXNS, 7);
    let h = to_history(&gens);
    let r = txn_cycles::check(&h, &CheckOptions::default());
    assert_eq!(
        r.valid,
        Validity::Valid,
        "{:#?}",
        &r.anomalies[..r.anomalies.len().min(3)]
    );
    assert_eq!(r.stats["txns"]["total"], json!(TXNS));
    assert!(r.stats["edges"]["realtime"].as_u64().unwrap() > TXNS as u64 / 2);
    assert!(r.stats["edges"]["rw"].as_u64().unwrap() > 0);
    assert_eq!(r.stats["sccs"], json!(0));
}

/// The completion op index of the transaction of `process` that completed at `end`.
fn completion_index(h: &History, process: u64, end: u64) -> u64 {
    h.ops()
        .iter()
        .find(|o| o.process == Process::Client(process) && o.time == end && !o.is_invoke())
        .unwrap()
        .index
}

/// Finds an ok read of a non-empty list whose last element's writer completed before the
/// reader was invoked, and truncates the read: a stale read that real time forbids.
fn inject_stale_read(gens: &mut [Gen]) -> usize {
    let mut writer: HashMap<(u64, u64), usize> = HashMap::new();
    for (i, g) in gens.iter().enumerate() {
        for m in &g.value {
            if m[0] == "append" {
                writer.insert((m[1].as_u64().unwrap(), m[2].as_u64().unwrap()), i);
            }
        }
    }
    for i in gens.len() / 2..gens.len() {
        if gens[i].outcome != OpType::Ok {
            continue;
        }
        for j in 0..gens[i].value.len() {
            let m = &gens[i].value[j];
            let Some(list) = m[2].as_array().filter(|l| !l.is_empty() && m[0] == "r") else {
                continue;
            };
            let k = m[1].as_u64().unwrap();
            let last = list.last().unwrap().as_u64().unwrap();
            let w = writer[&(k, last)];
            let only_read = gens[i].value.iter().filter(|x| x[1] == k).count() == 1;
            if w != i && only_read && gens[w].outcome == OpType::Ok && gens[w].end < gens[i].start {
                let mut shorter = list.clone();
                shorter.pop();
                gens[i].value[j][2] = Value::from(shorter);
                return i;
            }
        }
    }
    panic!("no read to make stale");
}

#[test]
fn injected_anomalies_are_reported() {
    let mut gens = generate(TXNS / 4, 11);
    let stale = inject_stale_read(&mut gens);
    // An aborted read: an ok read shows an element of a failed append.
    let failed = gens
        .iter()
        .position(|g| g.outcome == OpType::Fail && g.value.iter().any(|m| m[0] == "append"))
        .unwrap();
    let m = gens[failed]
        .value
        .iter()
        .find(|m| m[0] == "append")
        .unwrap()
        .clone();
    gens.push(Gen {
        process: 999_999,
        start: gens[failed].end + 1,
        end: gens[failed].end + 2,
        outcome: OpType::Ok,
        value: vec![json!(["r", m[1], [m[2]]])],
    });
    let h = to_history(&gens);
    let stale_index = completion_index(&h, gens[stale].process, gens[stale].end);
    let r = txn_cycles::check(&h, &CheckOptions::default());
    assert_eq!(r.valid, Validity::Invalid);
    let kinds = r.counts_by_kind();
    assert!(kinds.contains_key("G1a"), "{kinds:?}");
    assert!(
        kinds
            .keys()
            .any(|k| k.starts_with("G-single") || k.starts_with("G2")),
        "{kinds:?}"
    );
    // The stale reader is a witness of some cycle.
    assert!(
        r.anomalies
            .iter()
            .any(|a| a.kind.starts_with("G-single") && a.ops.contains(&stale_index)),
        "{kinds:?}"
    );
}
