//! The foundation's promises, end to end against real redis-server processes: a fault-free set
//! run is valid with every acknowledged add present; a kill run records kill/start and leaves no
//! process behind; a forced restart-with-empty-dataset loses writes and the checker names them.

mod support;

use support::{assert_exit, run_test, servers_under, Store};

#[test]
fn fault_free_set_run_is_valid_and_keeps_every_acknowledged_add() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "set",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
            "--seed",
            "1",
        ],
    );
    assert_exit(&out, 0);
    let r = store.results();
    assert_eq!(r["valid"], true);
    let stats = &r["checkers"]["lost-writes"]["stats"];
    assert_eq!(stats["lost"], 0);
    assert!(stats["acknowledged"].as_u64().unwrap() > 100, "{stats}");
    assert_eq!(
        stats["acknowledged"], stats["stable"],
        "every acknowledged add is in the final read"
    );
    for f in [
        "test.json",
        "history.jsonl",
        "report.html",
        "junit.xml",
        "nodes/n1/redis.conf",
        "nodes/n2/redis.log",
    ] {
        assert!(store.latest().join(f).exists(), "{f} missing");
    }
    assert!(servers_under(store.path()).is_empty());
}

#[test]
fn kill_run_records_faults_and_leaves_no_process() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "set",
            "--nemesis",
            "kill",
            "--time-limit",
            "6",
            "--nemesis-interval",
            "2",
            "--seed",
            "7",
        ],
    );
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history = std::fs::read_to_string(store.latest().join("history.jsonl")).unwrap();
    assert!(history.contains(r#""process":"nemesis","type":"info","f":"kill""#));
    assert!(history.contains(r#""process":"nemesis","type":"info","f":"start""#));
    assert!(
        servers_under(store.path()).is_empty(),
        "servers left behind"
    );
    assert!(
        !store.latest().join("pids.json").exists(),
        "pid file removed on a clean exit"
    );
}

#[test]
fn restart_with_empty_dataset_loses_acknowledged_writes_and_names_them() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--workload",
            "set",
            "--nemesis",
            "kill:master",
            "--time-limit",
            "5",
            "--nemesis-interval",
            "2",
            "--fault-duration",
            "1",
            "--redis-option",
            "save=",
            "--redis-option",
            "appendonly=no",
            "--seed",
            "3",
        ],
    );
    assert_exit(&out, 1);
    let r = store.results();
    let lw = &r["checkers"]["lost-writes"];
    assert_eq!(lw["valid"], false);
    let lost = lw["stats"]["lost"].as_u64().unwrap();
    assert!(lost > 0);
    let first = &lw["anomalies"][0];
    assert_eq!(first["kind"], "lost");
    assert!(
        first["explanation"].as_str().unwrap().contains("kill n1"),
        "{first}"
    );
    assert!(!first["ops"].as_array().unwrap().is_empty());
}

#[test]
fn the_same_seed_gives_the_same_fault_schedule() {
    let schedule = |store: &Store| {
        let out = run_test(
            store,
            &[
                "--workload",
                "set",
                "--nemesis",
                "kill,pause,partition",
                "--time-limit",
                "2",
                "--nemesis-interval",
                "0.4",
                "--fault-duration",
                "0.2",
                "--seed",
                "42",
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0) | Some(1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(store.latest().join("test.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["seed"], 42);
        v["schedule"].clone()
    };
    let (a, b) = (Store::new(), Store::new());
    let first = schedule(&a);
    assert!(first.as_array().is_some_and(|s| s.len() >= 3), "{first}");
    assert_eq!(first, schedule(&b));
}
