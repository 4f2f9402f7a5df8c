//! The power-loss fault and the slow disk against real redis-server processes, a few seconds
//! each: a master that loses power under `appendfsync always` keeps every acknowledged write;
//! under `appendfsync no` it loses some; and under `everysec` a plain process kill loses
//! acknowledged writes once fsync is slow, because Redis postpones its AOF write while a
//! background fsync runs and acknowledges the writes all the same (docs/persistence.md).
//! Nothing stays mounted after any of them.

mod lazy_disk_support;
mod support;

use support::{assert_exit, run_test, servers_under, Store};

/// `redline test` of the set workload with the master losing power every 1.5 s (restarted
/// 0.9 s later on what its disk kept), AOF on with `fsync`, plus `extra`.
fn power_loss_run(store: &Store, fsync: &str, extra: &[&str]) -> std::process::Output {
    let appendfsync = format!("appendfsync={fsync}");
    let mut args = vec![
        "--workload",
        "set",
        "--nemesis",
        "power-loss:master",
        "--time-limit",
        "5",
        "--nemesis-interval",
        "1.5",
        "--replicas",
        "1",
        "--redis-option",
        "appendonly=yes",
        "--redis-option",
        &appendfsync,
        "--seed",
        "7",
    ];
    args.extend_from_slice(extra);
    run_test(store, &args)
}

fn assert_nothing_left(store: &Store) {
    assert!(servers_under(store.path()).is_empty(), "servers left");
    let mounts = lazy_disk_support::fuse_mounts_under(store.path());
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_through_power_loss() {
    skip_unless_lazy_disk!();
    let store = Store::new();
    let out = power_loss_run(&store, "always", &["--expect", "no-lost-writes"]);
    assert_exit(&out, 0);
    let stats = &store.results()["checkers"]["lost-writes"]["stats"];
    assert_eq!(stats["lost"], 0, "{stats}");
    assert!(stats["acknowledged"].as_u64().unwrap() > 100, "{stats}");
    let losses = lazy_disk_support::power_losses(&store.latest());
    assert!(losses.len() >= 2, "the master lost power: {losses:?}");
    assert_eq!(losses[0]["value"]["nodes"], serde_json::json!(["n1"]));
    // The data lived on the mount and stays on the disk underneath.
    let disk = store.latest().join("nodes/n1/disk/appendonlydir");
    assert!(disk.is_dir(), "n1's AOF is on its disk");
    assert_nothing_left(&store);
}

#[test]
fn appendfsync_no_loses_acknowledged_writes_to_power_loss() {
    skip_unless_lazy_disk!();
    let store = Store::new();
    let out = power_loss_run(&store, "no", &[]);
    assert_exit(&out, 1);
    let stats = &store.results()["checkers"]["lost-writes"]["stats"];
    assert!(stats["lost"].as_u64().unwrap() > 0, "{stats}");
    let losses = lazy_disk_support::power_losses(&store.latest());
    assert!(
        lazy_disk_support::dropped_bytes(&losses) > 0,
        "the disks dropped unsynced AOF bytes: {losses:?}"
    );
    assert_nothing_left(&store);
}

/// The nightly suite's everysec row, reproduced: no power loss, only SIGKILL of the master,
/// but with fsync 1 s slow. Acknowledged writes sat in Redis's AOF buffer, whose write it
/// had postponed behind the background fsync (for at most 2 s), and died with the process: so
/// every lost write was acknowledged within about 2 s of the kill that lost it, which is what
/// `lost-within` checks (the fault that lost a write is the checker's one definition,
/// `FaultLog::that_lost`). Redis logs "Asynchronous AOF fsync is taking too long" only when a
/// postponement passes 2 whole seconds, so its log is no witness of the shorter ones; the
/// telemetry's INFO persistence is, and the explanations cite it.
#[test]
fn appendfsync_everysec_loses_acknowledged_writes_to_a_kill_when_fsync_is_slow() {
    skip_unless_lazy_disk!();
    // A kill loses writes only when it finds the AOF write postponed behind a pending fsync,
    // and the explanation can cite that only when the telemetry's last sample of the process
    // (one every 250 ms) caught the fsync pending; on a quiet machine three seeds in a row
    // lost nothing, and a loaded CI machine once lost writes with no such sample. Up to five
    // seeds, the next one only after a run that lost nothing or had no sample to cite: the
    // claim is that such losses happen, stay within their window, and that the telemetry
    // shows why.
    let mut attempt = None;
    for seed in ["1", "2", "3", "4", "5"] {
        let store = Store::new();
        let out = run_test(
            &store,
            &[
                "--workload",
                "set",
                "--nemesis",
                "kill:master",
                // Three or four kills, each likely to find a background fsync pending (it takes
                // 1.5 s of every second): one kill that finds none loses nothing, which under a
                // loaded CI machine happened once with two kills and a 1 s fsync.
                "--time-limit",
                "6",
                "--nemesis-interval",
                "1.5",
                "--replicas",
                "1",
                "--redis-option",
                "appendonly=yes",
                "--redis-option",
                "appendfsync=everysec",
                "--fsync-delay-ms",
                "1500",
                "--seed",
                seed,
                "--expect",
                "lost-writes>=1",
                "--expect",
                "lost-within=2500",
            ],
        );
        // Only a run that lost nothing, or held with no sample to cite, is tried again: one
        // that lost writes outside their window (exit 1 with losses) is a finding, and fails
        // below.
        let results = store.results();
        let lost_none = out.status.code() == Some(1)
            && results["checkers"]["lost-writes"]["stats"]["lost"] == 0;
        let uncited = out.status.code() == Some(0) && !cites_a_pending_fsync(&results);
        attempt = Some((store, out));
        if !lost_none && !uncited {
            break;
        }
    }
    let (store, out) = attempt.expect("five attempts");
    assert_exit(&out, 0);
    let results = store.results();
    let lost_writes = &results["checkers"]["lost-writes"];
    let stats = &lost_writes["stats"];
    assert!(stats["lost"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["lost_without_fault"], 0, "{stats}");
    assert!(
        stats["lost_age_ms_max"].as_f64().unwrap() < 2500.0,
        "{stats}"
    );
    // At least one kill caught a pending fsync in the node's last sample, and said so.
    assert!(
        cites_a_pending_fsync(&results),
        "no explanation cites a pending fsync"
    );
    assert_nothing_left(&store);
}

/// Whether a lost write's explanation cites a pending background fsync from the telemetry.
fn cites_a_pending_fsync(results: &serde_json::Value) -> bool {
    results["checkers"]["lost-writes"]["anomalies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["explanation"].as_str())
        .any(|e| e.contains("aof_pending_bio_fsync 1"))
}

/// The netns backend mounts the same disks before it starts servers in their namespaces,
/// which see them; everything is gone afterwards.
#[test]
fn power_loss_on_netns_hosts() {
    skip_unless_lazy_disk!();
    if let Some(why) = redline::cluster::netns::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let store = Store::new();
    let out = power_loss_run(&store, "always", &["--net", "netns", "--expect", "valid"]);
    assert_exit(&out, 0);
    let losses = lazy_disk_support::power_losses(&store.latest());
    assert!(!losses.is_empty(), "the master lost power");
    assert!(
        losses.iter().all(|op| op.get("error").is_none()),
        "{losses:?}"
    );
    assert_nothing_left(&store);
}
