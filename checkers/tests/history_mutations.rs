//! A mutation fuzzer over histories (issue #17), bounded to a few seconds.
//!
//! Seeded random histories of each model (register, set, counter, list-append, rw-register)
//! are rewritten in ways that keep their meaning: CRLF line ends, shuffled JSON keys, blank
//! lines, the EDN spelling (one map per line and one vector), a JSON array, gzip. Every
//! rewrite must give exactly the results of the original. They are then damaged at random
//! (bytes flipped, dropped, duplicated; lines cut, swapped, repeated): reading and checking
//! must end, without a panic, in results or an error.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redline_checkers::history::jsonl;
use redline_checkers::{registry, CheckOptions, CheckerName, Model};
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

const SEEDS: u64 = 12;
const MUTANTS_PER_HISTORY: usize = 40;

/// One random history of `model`, as JSON records.
fn history(model: &str, rng: &mut ChaCha8Rng) -> Vec<Value> {
    let mut records = Vec::new();
    let mut time = 0u64;
    let mut next_value = 0i64;
    let processes = rng.gen_range(1..4u64);
    for _ in 0..rng.gen_range(2..25) {
        let p = rng.gen_range(0..processes) + 10 * records.len() as u64;
        next_value += 1;
        let key = format!("k{}", rng.gen_range(0..2));
        let (f, invoke, done) = op_values(model, next_value, &key, rng);
        let outcome = ["ok", "ok", "ok", "fail", "info"][rng.gen_range(0..5)];
        time += rng.gen_range(0..3);
        records.push(json!({"process": p, "type": "invoke", "f": f, "key": key,
                            "value": invoke, "time": time}));
        time += rng.gen_range(0..3);
        records.push(json!({"process": p, "type": outcome, "f": f, "key": key,
                            "value": done, "time": time}));
    }
    for (i, r) in records.iter_mut().enumerate() {
        r["index"] = json!(i);
        if model == "list-append" || model == "rw-register" {
            r.as_object_mut().map(|o| o.remove("key"));
        }
    }
    records
}

/// (f, invocation value, completion value) of one random operation.
fn op_values(model: &str, v: i64, key: &str, rng: &mut ChaCha8Rng) -> (&'static str, Value, Value) {
    let read: bool = rng.gen_bool(0.4);
    let seen = rng.gen_range(0..v.max(1));
    match model {
        "register" if read => ("read", Value::Null, json!(seen)),
        "register" => ("write", json!(v), json!(v)),
        "set" if read => ("read", Value::Null, json!((1..=seen).collect::<Vec<_>>())),
        "set" => ("add", json!(v), json!(v)),
        "counter" if read => ("read", Value::Null, json!(seen)),
        "counter" => ("add", json!(rng.gen_range(-2..3)), Value::Null),
        "list-append" => {
            let list: Vec<i64> = (1..=seen).filter(|x| x % 2 == 1).collect();
            (
                "txn",
                json!([["append", key, v], ["r", key, null]]),
                json!([["append", key, v], ["r", key, list]]),
            )
        }
        _ => (
            "txn",
            json!([["w", key, v], ["r", key, null]]),
            json!([
                ["w", key, v],
                ["r", key, if read { json!(seen) } else { Value::Null }]
            ]),
        ),
    }
}

fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

/// The EDN spelling of a JSON value: keys and the type, f and micro-op names as keywords.
fn edn(v: &Value, keyword: bool) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if keyword => format!(":{s}"),
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => {
            let micro_op = a
                .first()
                .is_some_and(|f| f == "append" || f == "r" || f == "w");
            let items: Vec<String> = a
                .iter()
                .enumerate()
                .map(|(i, x)| edn(x, micro_op && i == 0))
                .collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, x)| format!(":{k} {}", edn(x, k == "type" || k == "f")))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Rewrites that keep the meaning of a history.
fn rewrites(records: &[Value], rng: &mut ChaCha8Rng) -> Vec<(&'static str, Vec<u8>)> {
    let text = jsonl(records);
    let shuffled: String = records
        .iter()
        .map(|r| {
            let mut keys: Vec<(&String, &Value)> = r.as_object().unwrap().iter().collect();
            for i in (1..keys.len()).rev() {
                keys.swap(i, rng.gen_range(0..=i));
            }
            let fields: Vec<String> = keys.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            format!("{{{}}}\n", fields.join(","))
        })
        .collect();
    let blank: String = text.lines().map(|l| format!("\n  {l}\n\n")).collect();
    let edn_lines: String = records
        .iter()
        .map(|r| format!("{}\n", edn(r, false)))
        .collect();
    let edn_vector = format!("; a comment\n[{}]\n", edn_lines.trim_end());
    let array = format!("[{}]", text.trim_end().replace('\n', ",\n"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(edn_lines.as_bytes()).unwrap();
    vec![
        ("crlf", text.replace('\n', "\r\n").into_bytes()),
        ("key order", shuffled.into_bytes()),
        ("blank lines", blank.into_bytes()),
        ("edn lines", edn_lines.into_bytes()),
        ("edn vector", edn_vector.into_bytes()),
        ("json array", array.into_bytes()),
        ("gzip", gz.finish().unwrap()),
    ]
}

/// Reads and checks `bytes` as `redline check` would, results without the input summary.
fn check(bytes: &[u8], model: Option<Model>) -> Result<Value, String> {
    let read = jsonl::read(bytes).map_err(|e| e.to_string())?;
    let model = model.or_else(|| Model::detect(&read.history, None));
    let names = model.map_or(
        vec![CheckerName::Availability],
        CheckerName::defaults_for_model,
    );
    let opts = CheckOptions {
        linearizable_time_budget: Duration::from_secs(2),
        txn_scc_time_budget: Duration::from_secs(1),
        ..CheckOptions::default()
    };
    let results = registry::run(&names, &read.history, &opts);
    Ok(serde_json::to_value(results).unwrap())
}

/// Damages a history at random.
fn mutate(bytes: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        if out.is_empty() {
            break;
        }
        let i = rng.gen_range(0..out.len());
        match rng.gen_range(0..6) {
            0 => out[i] = rng.gen(),
            1 => {
                out.remove(i);
            }
            2 => {
                let specials = b"{}[]\":, \n\\#;";
                out.insert(i, specials[rng.gen_range(0..specials.len())]);
            }
            3 => out.truncate(i),
            4 => {
                let j = rng.gen_range(i..out.len().min(i + 200));
                let chunk = out[i..j].to_vec();
                out.splice(i..i, chunk);
            }
            _ => {
                let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
                let mut lines: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
                if lines.len() > 1 {
                    let a = rng.gen_range(0..lines.len());
                    let b = rng.gen_range(0..lines.len());
                    lines.swap(a, b);
                }
                out = lines.join(&b'\n');
            }
        }
    }
    out
}

#[test]
fn rewrites_keep_the_verdict_and_damage_never_panics() {
    let started = Instant::now();
    let mut checked = 0usize;
    for model in ["register", "set", "counter", "list-append", "rw-register"] {
        let parsed: Option<Model> = model.parse().ok();
        for seed in 0..SEEDS {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let records = history(model, &mut rng);
            let original = jsonl(&records);
            let want = check(original.as_bytes(), parsed)
                .unwrap_or_else(|e| panic!("{model} seed {seed}: {e}\n{original}"));
            for (name, bytes) in rewrites(&records, &mut rng) {
                let got = check(&bytes, parsed);
                assert_eq!(
                    got.as_ref(),
                    Ok(&want),
                    "{model} seed {seed}, {name} changed the results\n{}",
                    String::from_utf8_lossy(&bytes)
                );
                checked += 1;
            }
            for _ in 0..MUTANTS_PER_HISTORY {
                let damaged = mutate(original.as_bytes(), &mut rng);
                let _ = check(&damaged, parsed);
                let _ = check(&damaged, None);
                checked += 1;
            }
        }
    }
    let took = started.elapsed();
    assert!(checked > 2000, "{checked}");
    // Bounded: a hang or a blow-up in any mutant shows here (the suite runs it in debug).
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// Values `edn` spells as keywords must round-trip as strings.
#[test]
fn the_edn_spelling_reads_back_as_the_json() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let records = history("list-append", &mut rng);
    let edn_text: String = records
        .iter()
        .map(|r| format!("{}\n", edn(r, false)))
        .collect();
    let a = jsonl::read_str(&edn_text).unwrap();
    let b = jsonl::read_str(&jsonl(&records)).unwrap();
    assert_eq!(a.history.ops(), b.history.ops());
}
