//! The streaming reader (`txn_cycles::stream`) must give exactly the result of the general
//! path (`jsonl::read` into a `History`, then `txn_cycles::check`): same verdict, anomalies in
//! the same order with the same explanations, same stats and notes.
//!
//! The histories are random and sloppy on purpose: a store whose replicas lag, so reads are
//! stale or out of order and every anomaly class shows up; completions out of invocation
//! order; failed, indeterminate and never-completed transactions; string and integer keys.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redline_checkers::history::jsonl;
use redline_checkers::txn_cycles::{self, stream};
use redline_checkers::CheckOptions;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A history of `n` transactions over `procs` concurrent processes, as JSONL text.
fn sloppy_history(n: usize, procs: u64, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Two copies of the store; reads go to either, appends to one or both.
    let mut stores: [HashMap<String, Vec<i64>>; 2] = [HashMap::new(), HashMap::new()];
    let mut next_elem = 0i64;
    let mut open: HashMap<u64, (Vec<Value>, Vec<Value>)> = HashMap::new();
    let mut lines = Vec::new();
    let mut time = 0u64;
    let mut process_ids: Vec<u64> = (0..procs).collect();
    let mut started = 0usize;
    while started < n || !open.is_empty() {
        time += rng.gen_range(1..1000);
        let slot = rng.gen_range(0..procs as usize);
        let p = process_ids[slot];
        let Some((inv, done)) = open.remove(&p) else {
            if started < n {
                started += 1;
                let (inv, done) = random_txn(&mut rng, &mut stores, &mut next_elem);
                lines.push(
                    json!({"time": time, "process": p, "type": "invoke", "f": "txn",
                                  "value": inv}),
                );
                open.insert(p, (inv, done));
            }
            continue;
        };
        let outcome = ["ok", "ok", "ok", "ok", "fail", "info", "open"][rng.gen_range(0..7)];
        match outcome {
            "open" => process_ids[slot] += procs, // never completes; a fresh process goes on
            "fail" => lines.push(json!({"time": time, "process": p, "type": "fail",
                                        "f": "txn", "value": inv})),
            ty => {
                lines.push(json!({"time": time, "process": p, "type": ty, "f": "txn",
                                  "value": done}));
                if ty == "info" {
                    process_ids[slot] += procs;
                }
            }
        }
    }
    let mut text = String::new();
    for (index, mut line) in lines.into_iter().enumerate() {
        line["index"] = json!(index);
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

/// One transaction's invocation and completion micro-ops, run against the sloppy store.
fn random_txn(
    rng: &mut ChaCha8Rng,
    stores: &mut [HashMap<String, Vec<i64>>; 2],
    next_elem: &mut i64,
) -> (Vec<Value>, Vec<Value>) {
    let (mut inv, mut done) = (Vec::new(), Vec::new());
    for _ in 0..rng.gen_range(1..5) {
        let k = rng.gen_range(0..6);
        let key = if k % 2 == 0 {
            json!(k)
        } else {
            json!(format!("k{k}"))
        };
        let name = key.to_string();
        if rng.gen_bool(0.5) {
            *next_elem += 1;
            for (i, s) in stores.iter_mut().enumerate() {
                if i == 0 || rng.gen_bool(0.8) {
                    s.entry(name.clone()).or_default().push(*next_elem);
                }
            }
            inv.push(json!(["append", key, *next_elem]));
            done.push(json!(["append", key, *next_elem]));
        } else {
            let s = &stores[rng.gen_range(0..2)];
            inv.push(json!(["r", key, null]));
            done.push(json!(["r", key, s.get(&name).cloned().unwrap_or_default()]));
        }
    }
    (inv, done)
}

/// Checks `text` both ways; returns the streamed result's distinct anomaly kinds and both
/// results as JSON.
fn both_paths(text: &str) -> (Vec<String>, String, String) {
    let opts = CheckOptions::default();
    let streamed = stream::read(text.as_bytes()).unwrap();
    let history = jsonl::read_str(text).unwrap();
    let a = txn_cycles::check_txns(streamed.txns, &opts);
    let b = txn_cycles::check(&history.history, &opts);
    let mut kinds: Vec<String> = a.anomalies.iter().map(|x| x.kind.clone()).collect();
    kinds.sort();
    kinds.dedup();
    (
        kinds,
        serde_json::to_string_pretty(&a).unwrap(),
        serde_json::to_string_pretty(&b).unwrap(),
    )
}

#[test]
fn streamed_results_are_identical_to_the_history_path() {
    for seed in 0..4 {
        let text = sloppy_history(1500, 6, seed);
        let (kinds, a, b) = both_paths(&text);
        assert!(
            kinds.len() >= 3,
            "seed {seed}: too few anomalies to compare: {kinds:?}"
        );
        assert_eq!(a, b, "seed {seed}");
    }
}

#[test]
fn a_history_without_transactions_is_skipped_alike() {
    let text = r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"add","value":1}
{"index":1,"time":2,"process":0,"type":"ok","f":"add","value":1}
"#;
    let (kinds, a, b) = both_paths(text);
    assert!(kinds.is_empty());
    assert_eq!(a, b);
}
