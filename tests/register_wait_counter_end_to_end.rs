//! The checkers the harness is named for, live: reads from the master are never stale; reads
//! from replicas behind a delayed replication link are, by about the delay; WAIT-acknowledged
//! writes are reported by ack level under promotion; a fault-free counter run is valid.

mod support;

use support::{assert_exit, run_test, Store};

#[test]
fn register_reads_on_the_master_are_never_stale() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "register",
            "--read-from",
            "master",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
            "--expect",
            "no-stale-reads",
            "--expect",
            "read-your-writes",
            "--expect",
            "monotonic-reads",
        ],
    );
    assert_exit(&out, 0);
    let r = store.results();
    let stats = &r["checkers"]["stale-reads"]["stats"];
    assert_eq!(stats["stale"], 0);
    assert!(stats["reads"].as_u64().unwrap() > 100, "{stats}");
}

#[test]
fn replica_reads_behind_a_delayed_link_are_stale_by_about_the_delay() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "register",
            "--read-from",
            "replicas",
            "--nemesis",
            "delay:replica-links",
            "--delay-ms",
            "200",
            "--time-limit",
            "4",
            "--nemesis-interval",
            "1",
            "--fault-duration",
            "2.5",
            "--rate",
            "1000",
            "--expect",
            "no-stale-reads",
        ],
    );
    assert_exit(&out, 1);
    let r = store.results();
    let stats = &r["checkers"]["stale-reads"]["stats"];
    assert!(stats["stale"].as_u64().unwrap() > 0, "{stats}");
    let worst = stats["staleness_ms_max"].as_f64().unwrap();
    assert!(
        (100.0..=400.0).contains(&worst),
        "worst staleness {worst} ms under a 200 ms delay"
    );
    let a = &r["checkers"]["stale-reads"]["anomalies"][0];
    assert_eq!(a["kind"], "stale-read");
    assert!(
        a["ops"].as_array().unwrap().len() >= 3,
        "read, the write it saw, the newer write"
    );
}

#[test]
fn wait_writes_are_grouped_by_ack_level_under_promotion() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "wait",
            "--wait-replicas",
            "2",
            "--nemesis",
            "promote",
            "--time-limit",
            "5",
            "--nemesis-interval",
            "1.5",
            "--expect",
            "wait-durable=2",
        ],
    );
    // Whether a write is lost depends on timing; what must hold is that no write WAIT reported as
    // acknowledged by both replicas is lost, and that the grouping is reported.
    assert_exit(&out, 0);
    let r = store.results();
    let w = &r["checkers"]["wait"];
    assert_eq!(w["stats"]["wait_durable_lost"], 0);
    assert!(w["stats"]["acknowledged_by_acked"].is_object(), "{w}");
    let history = std::fs::read_to_string(store.latest().join("history.jsonl")).unwrap();
    assert!(history.contains(r#""f":"promote""#));
}

#[test]
fn wait_without_faults_loses_nothing() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "wait",
            "--wait-replicas",
            "2",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(
        store.results()["checkers"]["lost-writes"]["stats"]["lost"],
        0
    );
}

#[test]
fn fault_free_counter_run_is_valid() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "counter",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
        ],
    );
    assert_exit(&out, 0);
    let c = &store.results()["checkers"]["counter"];
    assert_eq!(c["valid"], true);
    assert!(c["stats"]["reads"].as_u64().unwrap() > 10);
}
