//! Hand-written list-append histories for every anomaly class the txn-cycles checker reports,
//! Elle's own examples, and near-misses that must pass.

use redline_checkers::history::jsonl;
use redline_checkers::{txn_cycles, CheckOptions, CheckResult, History, Validity};
use serde_json::{json, Value};
use std::time::Duration;

/// One transaction: process, invocation and completion times (ms), outcome (`ok`, `fail`,
/// `info`, or `open` for no completion) and the completion's micro-ops. The invocation's reads
/// are written as `null`.
struct T(u64, u64, u64, &'static str, Value);

/// Builds a history, events in time order (completions first at equal times, so a process
/// may invoke at the very time its previous op completed).
fn history(ts: &[T]) -> History {
    let mut events: Vec<(u64, u8, usize)> = Vec::new();
    for (i, t) in ts.iter().enumerate() {
        events.push((t.1, 1, i));
        if t.3 != "open" {
            events.push((t.2, 0, i));
        }
    }
    events.sort();
    let mut text = String::new();
    for (index, (time, kind, i)) in events.into_iter().enumerate() {
        let t = &ts[i];
        let (ty, value) = if kind == 1 {
            ("invoke", invocation(&t.4))
        } else {
            (t.3, t.4.clone())
        };
        let line = json!({"index": index, "time": time * 1_000_000, "process": t.0,
                          "type": ty, "f": "txn", "value": value});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    jsonl::read_str(&text).unwrap().history
}

fn invocation(v: &Value) -> Value {
    let mops = v.as_array().unwrap();
    Value::from(
        mops.iter()
            .map(|m| {
                let m = m.as_array().unwrap();
                if m[0] == "r" {
                    json!([m[0], m[1], null])
                } else {
                    Value::from(m.clone())
                }
            })
            .collect::<Vec<_>>(),
    )
}

fn check(ts: &[T]) -> CheckResult {
    txn_cycles::check(&history(ts), &CheckOptions::default())
}

fn kinds(r: &CheckResult) -> Vec<String> {
    r.counts_by_kind().into_keys().collect()
}

fn assert_kinds(r: &CheckResult, expected: &[&str]) {
    assert_eq!(kinds(r), expected, "{:#?}", r.anomalies);
    assert_eq!(r.valid, Validity::Invalid);
}

fn assert_valid(r: &CheckResult) {
    assert_eq!(r.valid, Validity::Valid, "{:#?}", r.anomalies);
    assert!(r.anomalies.is_empty());
}

/// All transactions overlap in time, so no real-time edge exists.
fn concurrent(mops: &[(&'static str, Value)]) -> Vec<T> {
    mops.iter()
        .enumerate()
        .map(|(p, (ty, v))| T(p as u64, 0, 100, ty, v.clone()))
        .collect()
}

#[test]
fn elle_readme_example_is_g1c() {
    let r = check(&concurrent(&[
        ("ok", json!([["append", "x", 1], ["r", "y", [1]]])),
        ("ok", json!([["append", "x", 2], ["append", "y", 1]])),
        ("ok", json!([["r", "x", [1, 2]]])),
    ]));
    assert_kinds(&r, &["G1c"]);
    let a = &r.anomalies[0];
    assert_eq!(a.ops.len(), 2);
    assert!(a.explanation.contains("read T"), "{}", a.explanation);
    assert!(
        a.explanation.contains("a contradiction"),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation.contains("not: read-committed"),
        "{}",
        a.explanation
    );
}

/// The example history of the Elle paper (jepsen-io/elle `histories/paper-example.edn`), in
/// Elle's own JSON shape: no `f`, no times, keyword types. T2 -wr-> T3 (T3 saw 8 on 255),
/// T3 -ww-> T4 (T4's unobserved append of 3 to 256 follows T3's 4), T4 -rw-> T2 (T4 read 255
/// without T2's 8): G-single.
#[test]
fn elle_paper_example_is_g_single() {
    let text = r#"{"index":0,"process":0,"type":":invoke","value":[["append",253,1],["append",253,3],["append",253,4],["append",255,2],["append",255,3],["append",255,4],["append",255,5],["append",256,1],["append",256,2]]}
{"index":1,"process":0,"type":":ok","value":[["append",253,1],["append",253,3],["append",253,4],["append",255,2],["append",255,3],["append",255,4],["append",255,5],["append",256,1],["append",256,2]]}
{"index":2,"process":1,"type":":invoke","value":[["append",255,8],["r",253,null]]}
{"index":3,"process":1,"type":":ok","value":[["append",255,8],["r",253,[1,3,4]]]}
{"index":4,"process":2,"type":":invoke","value":[["append",256,4],["r",255,null],["r",256,null],["r",253,null]]}
{"index":5,"process":2,"type":":ok","value":[["append",256,4],["r",255,[2,3,4,5,8]],["r",256,[1,2,4]],["r",253,[1,3,4]]]}
{"index":6,"process":3,"type":":invoke","value":[["append",250,10],["r",253,null],["r",255,null],["append",256,3]]}
{"index":7,"process":3,"type":":ok","value":[["append",250,10],["r",253,[1,3,4]],["r",255,[2,3,4,5]],["append",256,3]]}
"#;
    let h = jsonl::read_str(text).unwrap().history;
    let r = txn_cycles::check(&h, &CheckOptions::default());
    assert_kinds(&r, &["G-single-item"]);
    let mut ops = r.anomalies[0].ops.clone();
    ops.sort();
    assert_eq!(ops, vec![3, 5, 7]);
    // Without a clock the reader takes the history's order as real-time order, as Elle does.
    assert_eq!(
        h.ops().iter().map(|o| o.time).collect::<Vec<_>>(),
        (0..8).collect::<Vec<u64>>()
    );
}

#[test]
fn write_cycle_is_g0() {
    let r = check(&concurrent(&[
        ("ok", json!([["append", "x", 1], ["append", "y", 2]])),
        ("ok", json!([["append", "x", 2], ["append", "y", 1]])),
        ("ok", json!([["r", "x", [1, 2]], ["r", "y", [1, 2]]])),
    ]));
    assert_kinds(&r, &["G0"]);
    assert!(r.anomalies[0].explanation.contains("appended"));
    let not = &r.anomalies[0].details["not"];
    assert!(not.as_array().unwrap().contains(&json!("read-uncommitted")));
}

#[test]
fn read_skew_is_g_single() {
    let r = check(&concurrent(&[
        ("ok", json!([["append", "x", 1], ["append", "y", 1]])),
        ("ok", json!([["r", "x", []], ["r", "y", [1]]])),
        ("ok", json!([["r", "x", [1]]])),
    ]));
    assert_kinds(&r, &["G-single-item"]);
    let e = &r.anomalies[0].explanation;
    assert!(e.contains("read key x (empty) before"), "{e}");
    // Elle's boundary: the weakest models a G-single-item rules out.
    assert!(e.contains("not: consistent-view, repeatable-read"), "{e}");
    let also_not = r.stats["also_not"].as_array().unwrap();
    assert!(also_not.contains(&json!("snapshot-isolation")));
}

#[test]
fn write_skew_is_g2_item_and_allowed_by_snapshot_isolation() {
    let r = check(&concurrent(&[
        ("ok", json!([["r", "x", []], ["append", "y", 1]])),
        ("ok", json!([["r", "y", []], ["append", "x", 1]])),
        ("ok", json!([["r", "x", [1]], ["r", "y", [1]]])),
    ]));
    assert_kinds(&r, &["G2-item"]);
    assert_eq!(r.anomalies[0].details["not"], json!(["repeatable-read"]));
    let ruled_out = r.stats["models_ruled_out"].as_array().unwrap();
    assert!(ruled_out.contains(&json!("serializable")));
    assert!(!ruled_out.contains(&json!("snapshot-isolation")));
}

#[test]
fn two_nonadjacent_anti_dependencies_are_g_nonadjacent() {
    let r = check(&concurrent(&[
        ("ok", json!([["r", "a", []], ["r", "d", [1]]])),
        ("ok", json!([["append", "a", 1], ["append", "b", 1]])),
        ("ok", json!([["r", "b", [1]], ["r", "c", []]])),
        ("ok", json!([["append", "c", 1], ["append", "d", 1]])),
        ("ok", json!([["r", "a", [1]], ["r", "c", [1]]])),
    ]));
    assert_kinds(&r, &["G-nonadjacent-item"]);
    assert_eq!(r.anomalies[0].ops.len(), 4);
}

#[test]
fn reading_a_failed_append_is_g1a() {
    let r = check(&concurrent(&[
        ("fail", json!([["append", "x", 1]])),
        ("ok", json!([["r", "x", [1]]])),
    ]));
    assert_kinds(&r, &["G1a"]);
    assert!(r.anomalies[0].explanation.contains("failed"));
}

#[test]
fn reading_a_non_final_append_is_g1b() {
    let r = check(&concurrent(&[
        ("ok", json!([["append", "x", 1], ["append", "x", 2]])),
        ("ok", json!([["r", "x", [1]]])),
        ("ok", json!([["r", "x", [1, 2]]])),
    ]));
    // Reading 1 but not 2 also puts the reader between T1's two appends: a G-single cycle.
    assert_kinds(&r, &["G-single-item", "G1b"]);
}

#[test]
fn a_read_contradicting_its_own_transaction_is_internal() {
    let r = check(&concurrent(&[
        ("ok", json!([["append", "x", 1]])),
        (
            "ok",
            json!([["r", "x", [1]], ["append", "x", 2], ["r", "x", [1]]]),
        ),
        ("ok", json!([["r", "x", [1, 2]]])),
    ]));
    assert!(
        kinds(&r).contains(&"internal".to_string()),
        "{:#?}",
        r.anomalies
    );
    let a = r.anomalies.iter().find(|a| a.kind == "internal").unwrap();
    assert!(a.explanation.contains("[1, 2]"), "{}", a.explanation);
}

#[test]
fn committed_append_after_aborted_one_is_dirty_update() {
    let r = check(&concurrent(&[
        ("fail", json!([["append", "x", 1]])),
        ("ok", json!([["append", "x", 2]])),
        ("info", json!([["r", "x", [1, 2]]])),
    ]));
    assert_kinds(&r, &["dirty-update"]);
}

#[test]
fn two_read_modify_writes_of_one_version_are_a_lost_update() {
    let r = check(&concurrent(&[
        ("ok", json!([["r", "x", []], ["append", "x", 1]])),
        ("ok", json!([["r", "x", []], ["append", "x", 2]])),
        ("ok", json!([["r", "x", [1, 2]]])),
    ]));
    assert!(
        kinds(&r).contains(&"lost-update".to_string()),
        "{:#?}",
        r.anomalies
    );
    let a = r
        .anomalies
        .iter()
        .find(|a| a.kind == "lost-update")
        .unwrap();
    assert_eq!(a.ops.len(), 2);
    // The same history is also a G-single cycle (T2 read [] before T1's 1; T1's 1 precedes 2).
    assert!(kinds(&r).contains(&"G-single-item".to_string()));
}

#[test]
fn reads_that_are_not_prefixes_are_incompatible_orders() {
    let r = check(&concurrent(&[
        ("ok", json!([["append", "x", 1]])),
        ("ok", json!([["append", "x", 2]])),
        ("ok", json!([["r", "x", [1, 2]]])),
        ("ok", json!([["r", "x", [2, 1]]])),
    ]));
    assert!(
        kinds(&r).contains(&"incompatible-order".to_string()),
        "{:#?}",
        r.anomalies
    );
}

#[test]
fn an_element_read_twice_is_duplicate_elements() {
    let r = check(&concurrent(&[
        ("ok", json!([["append", "x", 1]])),
        ("ok", json!([["r", "x", [1, 1]]])),
    ]));
    assert_kinds(&r, &["duplicate-elements"]);
}

/// T1 appends and completes at 10 ms; the same process invokes T2 at 10 ms (concurrent in real
/// time: closed intervals), which misses the append: only process order closes the cycle.
#[test]
fn missing_own_process_write_is_g_single_process() {
    let r = check(&[
        T(0, 0, 10, "ok", json!([["append", "x", 1]])),
        T(0, 10, 20, "ok", json!([["r", "x", []]])),
        T(1, 0, 30, "ok", json!([["r", "x", [1]]])),
    ]);
    assert_kinds(&r, &["G-single-item-process"]);
    let not = r.anomalies[0].details["not"].as_array().unwrap().clone();
    assert_eq!(not, [json!("strong-session-snapshot-isolation")]);
    let ruled_out = r.stats["models_ruled_out"].as_array().unwrap();
    assert!(ruled_out.contains(&json!("strong-session-serializable")));
    assert!(!ruled_out.contains(&json!("serializable")));
}

#[test]
fn stale_read_after_completion_is_g_single_realtime() {
    let r = check(&[
        T(0, 0, 10, "ok", json!([["append", "x", 1]])),
        T(1, 20, 30, "ok", json!([["r", "x", []]])),
        T(2, 0, 40, "ok", json!([["r", "x", [1]]])),
    ]);
    assert_kinds(&r, &["G-single-item-realtime"]);
    let e = &r.anomalies[0].explanation;
    assert!(e.contains("completed at 10.000 ms, before"), "{e}");
    assert_eq!(
        r.anomalies[0].details["not"],
        json!(["strong-snapshot-isolation"]),
        "{e}"
    );
}

#[test]
fn concurrent_stale_read_is_fine() {
    assert_valid(&check(&[
        T(0, 0, 10, "ok", json!([["append", "x", 1]])),
        T(1, 5, 30, "ok", json!([["r", "x", []]])),
        T(2, 0, 40, "ok", json!([["r", "x", [1]]])),
    ]));
}

#[test]
fn serializable_histories_pass() {
    // Write skew's serializable cousin: T1 then T2.
    assert_valid(&check(&concurrent(&[
        ("ok", json!([["r", "x", []], ["append", "y", 1]])),
        ("ok", json!([["r", "y", [1]], ["append", "x", 1]])),
        ("ok", json!([["r", "x", [1]], ["r", "y", [1]]])),
    ])));
    // A sequential history with reads of own appends.
    assert_valid(&check(&[
        T(0, 0, 10, "ok", json!([["append", 1, 1], ["r", 1, [1]]])),
        T(
            1,
            20,
            30,
            "ok",
            json!([["r", 1, [1]], ["append", 1, 2], ["r", 1, [1, 2]]]),
        ),
        T(0, 40, 50, "ok", json!([["r", 1, [1, 2]], ["r", 2, []]])),
    ]));
}

#[test]
fn info_appends_seen_are_committed_and_fail_appends_unseen_are_nothing() {
    assert_valid(&check(&concurrent(&[
        ("info", json!([["append", "x", 1]])),
        ("ok", json!([["r", "x", [1]]])),
        ("fail", json!([["append", "y", 1]])),
        ("ok", json!([["r", "y", []]])),
    ])));
    assert_valid(&check(&[
        T(0, 0, 0, "open", json!([["append", "x", 1]])),
        T(1, 5, 10, "ok", json!([["r", "x", [1]]])),
    ]));
}

#[test]
fn reading_own_intermediate_append_is_not_g1b() {
    assert_valid(&check(&concurrent(&[
        (
            "ok",
            json!([["append", "x", 1], ["r", "x", [1]], ["append", "x", 2]]),
        ),
        ("ok", json!([["r", "x", [1, 2]]])),
    ])));
}

#[test]
fn keyword_spellings_and_mixed_key_types_are_one_key() {
    let text = r#"{"index":0,"time":0,"process":0,"type":"invoke","value":[[":append",3,1]]}
{"index":1,"time":0,"process":1,"type":"invoke","value":[[":r","3",null],[":r",3,null]]}
{"index":2,"time":5,"process":0,"type":"ok","value":[[":append",3,1]]}
{"index":3,"time":6,"process":1,"type":"ok","value":[[":r","3",[1]],[":r",3,[1]]]}
"#;
    let h = jsonl::read_str(text).unwrap().history;
    let r = txn_cycles::check(&h, &CheckOptions::default());
    assert_valid(&r);
    assert_eq!(r.stats["keys"], json!(1));
}

#[test]
fn an_exhausted_budget_is_unknown_never_valid() {
    let opts = CheckOptions {
        txn_scc_time_budget: Duration::ZERO,
        ..CheckOptions::default()
    };
    let h = history(&concurrent(&[
        ("ok", json!([["append", "x", 1], ["append", "y", 2]])),
        ("ok", json!([["append", "x", 2], ["append", "y", 1]])),
        ("ok", json!([["r", "x", [1, 2]], ["r", "y", [1, 2]]])),
    ]));
    let r = txn_cycles::check(&h, &opts);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.notes.iter().any(|n| n.contains("SCC #0")),
        "{:?}",
        r.notes
    );
}

#[test]
fn histories_without_txns_are_skipped() {
    let text = r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"add","key":"s","value":1}
{"index":1,"time":1,"process":0,"type":"ok","f":"add","key":"s","value":1}
"#;
    let h = jsonl::read_str(text).unwrap().history;
    let r = txn_cycles::check(&h, &CheckOptions::default());
    assert!(r.skipped.is_some());
}

#[test]
fn stats_count_txns_edges_and_models() {
    let r = check(&[
        T(0, 0, 10, "ok", json!([["append", "x", 1]])),
        T(1, 20, 30, "ok", json!([["r", "x", []]])),
        T(2, 0, 40, "ok", json!([["r", "x", [1]]])),
        T(3, 0, 40, "fail", json!([["append", "y", 1]])),
    ]);
    assert_eq!(
        r.stats["txns"],
        json!({"total": 4, "ok": 3, "info": 0, "fail": 1})
    );
    assert_eq!(r.stats["keys"], json!(2));
    assert_eq!(r.stats["edges"]["rw"], json!(1));
    assert_eq!(r.stats["edges"]["wr"], json!(1));
    assert_eq!(r.stats["edges"]["realtime"], json!(1));
    assert_eq!(r.stats["sccs"], json!(1));
    assert_eq!(r.stats["anomalies"], json!({"G-single-item-realtime": 1}));
    assert_eq!(
        r.stats["models_ruled_out"],
        json!(["strong-snapshot-isolation", "strong-serializable"])
    );
}

#[test]
fn unreadable_micro_ops_make_a_clean_history_unknown() {
    let r = check(&concurrent(&[
        ("ok", json!([["w", "x", 1]])),
        ("ok", json!([["r", "x", []]])),
    ]));
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.notes[0].contains("not understood"), "{:?}", r.notes);
}
