//! `redline test --topology cluster --nodes ...` end to end: a Redis Cluster of three shards
//! with a replica each, on six hosts the test builds (network namespaces running sshd; see
//! `ssh_support`), driven over SSH exactly as real hosts. The cluster is formed at the hosts'
//! addresses (MEET, slots, REPLICATE, the bus on port + 10000), the slot-routing client writes
//! to the hosts' addresses, a fault-free run is valid, a run that kills primaries reaches a
//! verdict, and a SIGTERM of the harness during a partition, or a SIGKILL followed by `redline
//! cleanup`, leaves no server, nftables table or remote folder on the hosts.

mod ssh_support;
mod support;

use ssh_support::SshHosts;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use support::{assert_exit, run_test, spawn_test, Store};

const MEMBERS: [&str; 6] = ["n1", "n2", "n3", "n4", "n5", "n6"];

/// Six hosts make three shards of two nodes: n1 and n2 are shard 1, n3 and n4 shard 2, ...
const CLUSTER: [&str; 6] = [
    "--topology",
    "cluster",
    "--shards",
    "3",
    "--cluster-node-timeout",
    "1000",
];

/// One cluster at a time: six servers and six sshds per test on a small shared machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Six fresh hosts and a store, with the lock that keeps the tests' clusters one at a time.
fn six_hosts() -> (MutexGuard<'static, ()>, SshHosts, Store) {
    let one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    (one, SshHosts::create(6), Store::new())
}

/// `redline test`'s arguments: the hosts, the cluster, then `extra`.
fn args(hosts: &SshHosts, extra: &[&str]) -> Vec<String> {
    let mut all = hosts.flags(&MEMBERS);
    all.extend(CLUSTER.iter().chain(extra).map(|a| a.to_string()));
    all
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The nemesis completions that applied fault `f` (a failed fault is an `info` completion too,
/// with its error).
fn applied<'a>(ops: &'a [serde_json::Value], f: &str) -> Vec<&'a serde_json::Value> {
    ops.iter()
        .filter(|o| o["process"] == "nemesis" && o["type"] == "info" && o["f"] == f)
        .filter(|o| o["error"].is_null())
        .collect()
}

/// The shards checker's figures: three shards, each with a primary and served operations.
fn three_shards(results: &serde_json::Value) -> Vec<serde_json::Value> {
    let shards = results["checkers"]["shards"]["stats"]["shards"]
        .as_array()
        .expect("shards stats")
        .clone();
    assert_eq!(shards.len(), 3, "{shards:?}");
    for s in &shards {
        assert!(!s["primaries"].as_array().unwrap().is_empty(), "{s}");
        assert!(s["ops"]["ok"].as_u64().unwrap_or(0) > 0, "served: {s}");
    }
    shards
}

#[test]
fn fault_free_cluster_over_ssh_is_valid_and_leaves_nothing() {
    skip_unless_ssh_hosts!();
    let (_one, hosts, store) = six_hosts();
    let extra: Vec<&str> = "--workload set --nemesis none --time-limit 3 --seed 5"
        .split_whitespace()
        .collect();
    let out = run_test(&store, &refs(&args(&hosts, &extra)));
    assert_exit(&out, 0);
    let results = store.results();
    assert_eq!(results["valid"], true, "{results:#}");
    let shards = three_shards(&results);
    // Formed as asked: shard by shard, the first node of each the primary, every primary
    // acknowledging writes of its own slots at its host's address.
    for (s, pair) in shards
        .iter()
        .zip([["n1", "n2"], ["n3", "n4"], ["n5", "n6"]])
    {
        assert_eq!(s["nodes"], serde_json::json!(pair), "{s}");
        assert_eq!(s["primaries"][0]["node"], pair[0], "{s}");
        assert!(
            s["acknowledged_by"][pair[0]].as_u64().unwrap_or(0) > 0,
            "{s}"
        );
    }
    // The final reads came from every node of every shard.
    let ops = store.history();
    for node in MEMBERS {
        assert!(
            ops.iter()
                .any(|o| o["final"] == true && o["node"] == node && o["type"] == "ok"),
            "no final read from {node}"
        );
    }
    // The servers announced their hosts' addresses, bus included, and the replicas synced
    // from their primaries there (logs pulled back from the hosts).
    let run = store.latest();
    let conf = std::fs::read_to_string(run.join("nodes/n1/redis.conf")).unwrap();
    let n1 = hosts.hosts[0].addr;
    for line in [
        format!("cluster-announce-ip {n1}"),
        "cluster-announce-bus-port 16379".to_string(),
    ] {
        assert!(conf.contains(&line), "{line} in n1's config:\n{conf}");
    }
    let log = std::fs::read_to_string(run.join("nodes/n2/redis.log")).unwrap_or_default();
    assert!(
        log.contains(&format!("MASTER {n1}:6379")) && log.contains("MASTER <-> REPLICA sync"),
        "n2 replicated from n1 at {n1}:\n{log}"
    );
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
}

#[test]
fn killing_cluster_primaries_over_ssh_reaches_a_verdict() {
    skip_unless_ssh_hosts!();
    let (_one, hosts, store) = six_hosts();
    let extra: Vec<&str> =
        "--workload set --nemesis kill:master --nemesis-interval 2 --time-limit 8 --seed 7"
            .split_whitespace()
            .collect();
    let out = run_test(&store, &refs(&args(&hosts, &extra)));
    // A killed primary restarts from its last RDB snapshot and may lose acknowledged writes
    // (exit 1); what must hold is a decided check.
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = store.results();
    for checker in ["lost-writes", "shards", "split-brain"] {
        let valid = &results["checkers"][checker]["valid"];
        assert!(valid.is_boolean(), "{checker}: {results:#}");
    }
    three_shards(&results);
    let ops = store.history();
    let kills = applied(&ops, "kill");
    assert!(!kills.is_empty(), "a kill was applied");
    let primaries = ["n1", "n3", "n5"];
    let first = kills[0]["value"][0].as_str().unwrap_or_default();
    assert!(
        primaries.contains(&first),
        "the first kill hit a primary: {first}"
    );
    assert!(
        !applied(&ops, "start").is_empty(),
        "the killed node restarted"
    );
    support::assert_no_fault_failed(&ops);
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
}

/// Waits until the run's history shows a partition applied (so there are rules on the hosts
/// to remove), or fails.
fn wait_for_partition(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        let applied = std::fs::read_link(store.path().join("latest"))
            .and_then(|l| std::fs::read_to_string(l.join("history.jsonl")))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|o| {
                o["process"] == "nemesis"
                    && o["type"] == "info"
                    && o["f"] == "partition"
                    && o["error"].is_null()
            });
        if applied {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no partition was applied within 90 s");
}

/// Starts a cluster run whose partitions last 30 s, and returns once one is on the hosts.
fn partitioned_run(store: &Store, hosts: &SshHosts) -> std::process::Child {
    let extra: Vec<&str> = concat!(
        "--workload set --nemesis partition:minority --nemesis-interval 1 ",
        "--fault-duration 30 --time-limit 60"
    )
    .split_whitespace()
    .collect();
    let child = spawn_test(store, &refs(&args(hosts, &extra)));
    wait_for_partition(store);
    child
}

#[test]
fn sigkill_during_a_cluster_partition_then_cleanup_leaves_nothing() {
    skip_unless_ssh_hosts!();
    let (_one, hosts, store) = six_hosts();
    let mut child = partitioned_run(&store, &hosts);
    child.kill().unwrap();
    let _ = child.wait();
    let before = hosts.leftovers();
    let servers = before.iter().filter(|l| l.contains(" redis-")).count();
    assert_eq!(servers, 6, "every node still runs: {before:?}");
    assert!(before.iter().any(|l| l.starts_with("table")), "{before:?}");
    assert!(before.iter().any(|l| l.starts_with("folder")), "{before:?}");

    let out = support::cleanup(&store);
    assert_exit(&out, 0);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("killed") && said.contains("deleted table"),
        "{said}"
    );
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
    assert!(!store.latest().join("ssh.json").exists());
}

/// SIGTERM during a partition heals, stops every node and removes what the run put on the
/// hosts, leaving an incomplete history (exit 2).
#[test]
fn sigterm_during_a_cluster_partition_leaves_nothing() {
    skip_unless_ssh_hosts!();
    let (_one, hosts, store) = six_hosts();
    let mut child = partitioned_run(&store, &hosts);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = support::wait_exit(&mut child, 60);
    assert_eq!(status.code(), Some(2), "an interrupted run cannot decide");
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
    assert!(!store.latest().join("ssh.json").exists());
}
