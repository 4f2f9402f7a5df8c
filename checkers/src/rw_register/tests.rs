//! Elle's own rw-register cases (`test/elle/rw_register_test.clj`), ported: the same histories
//! under the same models and key assumptions give Elle's verdict, anomaly types and `not`.
//! Elle's `:anomalies [..]` option maps to the weakest model prohibiting the anomaly, as in
//! `checkers/tests/elle_list_append.rs`. Elle's `:transaction-order` option (a database's
//! own commit order) has no counterpart here, so those two cases are not ported.

use super::*;
use crate::history::jsonl::read_str;
use crate::registry::KeyAssumptions;
use crate::result::Validity;
use serde_json::{json, Value};

/// Elle's op language: `wx1` writes 1 to x, `rx1` reads x = 1, `rx_` reads x = nil.
fn mops(text: &str) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for c in text.chars() {
        match c {
            'w' => out.push(json!(["w"])),
            'r' => out.push(json!(["r"])),
            'x' | 'y' | 'z' => {
                let m = out.last_mut().unwrap().as_array_mut().unwrap();
                m.push(json!(c.to_string()));
            }
            '_' => out
                .last_mut()
                .unwrap()
                .as_array_mut()
                .unwrap()
                .push(Value::Null),
            d => {
                let m = out.last_mut().unwrap().as_array_mut().unwrap();
                m.push(json!(d.to_digit(10).unwrap()));
            }
        }
    }
    Value::Array(out)
}

fn invocation(m: &Value) -> Value {
    let list = m.as_array().unwrap().iter().map(|m| {
        if m[0] == "r" {
            json!(["r", m[1], null])
        } else {
            m.clone()
        }
    });
    Value::Array(list.collect())
}

fn line(p: u64, ty: &str, value: Value) -> String {
    format!(
        "{}\n",
        json!({"process": p, "type": ty, "f": "txn", "value": value})
    )
}

/// Records in the order given: (process, type, op text), invocations written `invoke`.
fn records(ops: &[(u64, &str, &str)]) -> String {
    ops.iter()
        .map(|&(p, ty, text)| {
            let m = mops(text);
            let value = if ty == "invoke" { invocation(&m) } else { m };
            line(p, ty, value)
        })
        .collect()
}

/// Each transaction invoked and completed before the next.
fn pairs(ops: &[(u64, &str, &str)]) -> String {
    let mut out = Vec::new();
    for &(p, ty, text) in ops {
        out.push((p, "invoke", text));
        out.push((p, ty, text));
    }
    records(&out)
}

/// Every transaction invoked before any completes, each by its own process.
fn together(ops: &[(&str, &str)]) -> String {
    let mut out: Vec<(u64, &str, &str)> = Vec::new();
    for (i, &(_, text)) in ops.iter().enumerate() {
        out.push((i as u64, "invoke", text));
    }
    for (i, &(ty, text)) in ops.iter().enumerate() {
        out.push((i as u64, ty, text));
    }
    records(&out)
}

fn run(text: &str, models: &[&str], assume: KeyAssumptions) -> CheckResult {
    let read = read_str(text).unwrap();
    let opts = CheckOptions {
        consistency_models: models.iter().map(|m| m.to_string()).collect(),
        key_assumptions: assume,
        ..CheckOptions::default()
    };
    check(&read.history, &opts)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn assert_elle(r: &CheckResult, valid: Validity, types: &[&str], not: &[&str]) {
    let context = format!("{:#?}\nnotes: {:?}", r.anomalies, r.notes);
    assert_eq!(r.valid, valid, "{context}");
    assert_eq!(strings(&r.stats["anomaly_types"]), types, "{context}");
    assert_eq!(strings(&r.stats["not"]), not, "{context}");
}

const NONE: KeyAssumptions = KeyAssumptions {
    sequential: false,
    linearizable: false,
    writes_follow_reads: false,
};
const LINEARIZABLE: KeyAssumptions = KeyAssumptions {
    linearizable: true,
    ..NONE
};
const SEQUENTIAL: KeyAssumptions = KeyAssumptions {
    sequential: true,
    ..NONE
};

#[test]
fn a_read_of_a_value_never_written_is_not_flagged() {
    // Elle calls this a bug of its own ("we should detect this as invalid") and says valid;
    // so does redline: no rule of rw-register covers a value nobody wrote.
    let h = pairs(&[(0, "ok", "wx1"), (0, "ok", "rx2")]);
    let r = run(&h, &["strict-serializable"], LINEARIZABLE);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

/// Elle: the version order the assumption gives contradicts the initial state's.
fn assert_cyclic_versions(h: &str, assume: KeyAssumptions, source: &str) {
    let r = run(h, &["strict-serializable"], assume);
    assert_elle(
        &r,
        Validity::Invalid,
        &["cyclic-versions"],
        &["read-uncommitted"],
    );
    assert_eq!(
        r.anomalies[0].details["sources"],
        json!(["initial-state", source])
    );
}

#[test]
fn reading_back_a_value_after_another_is_cyclic_versions() {
    let h = pairs(&[(0, "ok", "wx1"), (0, "ok", "rx2"), (0, "ok", "rx1")]);
    assert_cyclic_versions(&h, LINEARIZABLE, "linearizable-keys");
}

#[test]
fn g0_needs_a_version_order() {
    let writes = together(&[("ok", "wx1wy2"), ("ok", "wx2wy1")]);
    assert_elle(
        &run(&writes, &["read-uncommitted"], NONE),
        Validity::Unknown,
        &["empty-transaction-graph"],
        &[],
    );
    let h = records(&[
        (0, "invoke", "wx1wy2"),
        (0, "ok", "wx1wy2"),
        (1, "invoke", "wx2wy1"),
        (1, "ok", "wx2wy1"),
        (0, "invoke", "rx2"),
        (0, "ok", "rx2"),
        (1, "invoke", "ry2"),
        (1, "ok", "ry2"),
    ]);
    assert_elle(
        &run(&h, &["read-uncommitted"], SEQUENTIAL),
        Validity::Invalid,
        &["G0"],
        &["read-uncommitted"],
    );
}

#[test]
fn g1a_and_g1b() {
    let h = together(&[("ok", "rx1"), ("fail", "wx1")]);
    assert_elle(
        &run(&h, &["read-committed"], NONE),
        Validity::Invalid,
        &["G1a", "empty-transaction-graph"],
        &["read-committed"],
    );
    let h = together(&[("ok", "wx1wx2"), ("ok", "rx1")]);
    assert_elle(
        &run(&h, &["read-uncommitted"], NONE),
        Validity::Unknown,
        &["empty-transaction-graph"],
        &["read-committed"],
    );
    for model in ["read-committed", "repeatable-read"] {
        assert_elle(
            &run(&h, &[model], NONE),
            Validity::Invalid,
            &["G1b", "empty-transaction-graph"],
            &["read-committed"],
        );
    }
}

#[test]
fn g1c_from_reads_alone() {
    let h = together(&[("ok", "wx1ry1"), ("ok", "wy1rx1")]);
    assert_eq!(run(&h, &["read-uncommitted"], NONE).valid, Validity::Valid);
    for model in ["read-committed", "serializable"] {
        assert_elle(
            &run(&h, &[model], NONE),
            Validity::Invalid,
            &["G1c"],
            &["read-committed"],
        );
    }
}

#[test]
fn g2_item_with_linearizable_keys() {
    let h = records(&[
        (0, "invoke", "rx1ry1"),
        (0, "ok", "rx1ry1"),
        (1, "invoke", "rx1wy2"),
        (2, "invoke", "ry1wx2"),
        (2, "ok", "ry1wx2"),
        (1, "ok", "rx1wy2"),
    ]);
    assert_eq!(
        run(&h, &["read-committed"], LINEARIZABLE).valid,
        Validity::Valid
    );
    let r = run(&h, &["serializable"], LINEARIZABLE);
    assert_eq!(r.valid, Validity::Invalid, "{:?}", r.notes);
    assert_eq!(strings(&r.stats["anomaly_types"]), ["G2-item"]);
}

#[test]
fn internal_inconsistency() {
    let h = together(&[("ok", "rx1rx2")]);
    assert_elle(
        &run(&h, &["read-atomic"], NONE),
        Validity::Invalid,
        &["empty-transaction-graph", "internal"],
        &["read-atomic"],
    );
}

#[test]
fn nil_precedes_every_value() {
    // T1 reads x = nil and y = 1; T2 writes y = 1 and x = 2 while T1 runs.
    let h = records(&[
        (0, "invoke", "rx_ry1"),
        (1, "invoke", "wy1wx2"),
        (1, "ok", "wy1wx2"),
        (0, "ok", "rx_ry1"),
    ]);
    assert_elle(
        &run(&h, &["serializable"], NONE),
        Validity::Invalid,
        &["G-single-item"],
        &["consistent-view", "repeatable-read"],
    );
}

#[test]
fn writes_follow_reads_orders_versions() {
    let h = together(&[("ok", "ry1wx1wy2"), ("ok", "rx1ry1")]);
    assert_eq!(run(&h, &["serializable"], NONE).valid, Validity::Valid);
    let wfr = KeyAssumptions {
        writes_follow_reads: true,
        ..NONE
    };
    assert_elle(
        &run(&h, &["serializable"], wfr),
        Validity::Invalid,
        &["G-single-item"],
        &["consistent-view", "repeatable-read"],
    );
}

#[test]
fn cyclic_version_order_from_sequential_keys() {
    let h = pairs(&[(0, "ok", "wx1"), (0, "ok", "wx2"), (0, "ok", "rx1")]);
    assert_cyclic_versions(&h, SEQUENTIAL, "sequential-keys");
}

#[test]
fn lost_update() {
    let h = pairs(&[(0, "ok", "rx0wx1"), (1, "ok", "rx0wx2")]);
    assert_elle(
        &run(&h, &["strict-serializable"], NONE),
        Validity::Invalid,
        &["lost-update"],
        &["cursor-stability", "update-atomic"],
    );
}

#[test]
fn scc_sort_bug() {
    let h = pairs(&[
        (0, "ok", "rx1"),
        (0, "ok", "rx_"),
        (0, "ok", "rx4wx3"),
        (0, "ok", "wx4"),
    ]);
    let assume = KeyAssumptions {
        linearizable: true,
        writes_follow_reads: true,
        sequential: false,
    };
    let r = run(&h, &["strong-serializable"], assume);
    assert_elle(
        &r,
        Validity::Invalid,
        &["G1c-realtime", "cyclic-versions"],
        &["read-uncommitted"],
    );
    let cyclic: Vec<&Value> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == "cyclic-versions")
        .map(|a| &a.details["versions"])
        .collect();
    assert_eq!(cyclic, [&json!(["nil", "1"]), &json!(["3", "4"])]);
}

#[test]
fn cyclic_versions_bug() {
    let h = r#"{"index":1,"time":33189116,"type":"invoke","process":0,"f":"txn","value":[]}
{"index":2,"time":34621247,"type":"ok","process":0,"f":"txn","value":[]}
{"index":3,"time":36022782,"type":"invoke","process":0,"f":"txn","value":[["r",1,null]]}
{"index":4,"time":36230324,"type":"invoke","process":1,"f":"txn","value":[["w",1,4]]}
{"index":5,"time":36827540,"type":"invoke","process":2,"f":"txn","value":[]}
{"index":320,"time":37708797,"type":"ok","process":0,"f":"txn","value":[["r",1,null]]}
{"index":322,"time":37894295,"type":"ok","process":1,"f":"txn","value":[["w",1,4]]}
{"index":323,"time":37992467,"type":"ok","process":2,"f":"txn","value":[]}
{"index":324,"time":38532405,"type":"invoke","process":0,"f":"txn","value":[]}
{"index":325,"time":39475568,"type":"ok","process":0,"f":"txn","value":[]}
{"index":326,"time":39956694,"type":"invoke","process":0,"f":"txn","value":[["r",1,null]]}
{"index":327,"time":40746079,"type":"ok","process":0,"f":"txn","value":[["r",1,4]]}
"#;
    let r = run(h, &["serializable"], LINEARIZABLE);
    assert_eq!(r.valid, Validity::Valid, "{:?} {:?}", r.anomalies, r.notes);
}

#[test]
fn list_append_micro_ops_make_it_unknown() {
    let h = together(&[("ok", "wx1"), ("ok", "rx1")]).replace("\"w\"", "\"append\"");
    let r = run(&h, &["serializable"], NONE);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.notes.iter().any(|n| n.contains("appends")),
        "{:?}",
        r.notes
    );
}
