//! list-append transactions live: MULTI/EXEC on the master is serializable without faults;
//! under promotions with asynchronous replication the txn-cycles checker decides, and every
//! anomaly it reports carries witnesses and an explanation.

mod support;

use support::{assert_exit, run_test, Store};

#[test]
fn fault_free_transactions_on_the_master_are_serializable() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "list-append",
            "--read-from",
            "master",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
            "--expect",
            "serializable",
        ],
    );
    assert_exit(&out, 0);
    let t = &store.results()["checkers"]["txn-cycles"];
    assert_eq!(t["valid"], true);
    assert!(t["stats"]["txns"]["ok"].as_u64().unwrap() > 100, "{t}");
}

#[test]
fn promotions_are_judged_with_witnesses() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "list-append",
            "--nemesis",
            "promote",
            "--time-limit",
            "6",
            "--nemesis-interval",
            "1.5",
            "--seed",
            "4",
        ],
    );
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = &store.results()["checkers"]["txn-cycles"];
    assert_ne!(t["valid"], "unknown", "the checker decided: {t}");
    for a in t["anomalies"].as_array().unwrap() {
        assert!(!a["ops"].as_array().unwrap().is_empty(), "{a}");
        assert!(a["explanation"].as_str().unwrap().len() > 40, "{a}");
    }
}
