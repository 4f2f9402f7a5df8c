//! `redline test --nodes ...` end to end against three hosts the test builds (network
//! namespaces running sshd; see `ssh_support`), driven over SSH exactly as real hosts: with no
//! faults the history is valid; with kill and partition faults it is checked and the faults are
//! in it; SIGINT, SIGTERM, and SIGKILL followed by `redline cleanup`, leave no server, nftables table,
//! remote folder or SSH control master behind.

mod ssh_support;
mod support;

use ssh_support::SshHosts;
use std::time::{Duration, Instant};
use support::{assert_exit, redline, run_test, Store};

const MEMBERS: [&str; 3] = ["n1", "n2", "n3"];

fn args<'a>(flags: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = flags.iter().map(String::as_str).collect();
    all.extend_from_slice(extra);
    all
}

#[test]
fn no_faults_over_ssh_give_a_valid_history_and_leave_nothing() {
    skip_unless_ssh_hosts!();
    let hosts = SshHosts::create(3);
    let store = Store::new();
    let flags = hosts.flags(&MEMBERS);
    let out = run_test(
        &store,
        &args(
            &flags,
            &[
                "--workload",
                "set",
                "--nemesis",
                "none",
                "--time-limit",
                "3",
            ],
        ),
    );
    assert_exit(&out, 0);
    let results = store.results();
    assert_eq!(results["valid"], true, "{results:#}");
    let ops = store.history();
    let oks = ops
        .iter()
        .filter(|o| o["type"] == "ok" && o["f"] == "add")
        .count();
    assert!(oks > 50, "only {oks} acknowledged adds");
    // The final reads came from every host.
    for node in MEMBERS {
        assert!(
            ops.iter()
                .any(|o| o["final"] == true && o["node"] == node && o["type"] == "ok"),
            "no final read from {node}"
        );
    }
    let log = store.latest().join("nodes/n2/redis.log");
    assert!(
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("MASTER <-> REPLICA sync")),
        "{} pulled back from the host",
        log.display()
    );
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
}

#[test]
fn kill_and_partition_faults_over_ssh_give_a_checked_history() {
    skip_unless_ssh_hosts!();
    let hosts = SshHosts::create(3);
    let store = Store::new();
    let flags = hosts.flags(&MEMBERS);
    let out = run_test(
        &store,
        &args(
            &flags,
            &[
                "--workload",
                "set",
                "--nemesis",
                "kill,partition:isolate-master",
                "--time-limit",
                "8",
                "--nemesis-interval",
                "1.5",
                "--seed",
                "7",
            ],
        ),
    );
    // Lost writes are possible under these faults (exit 1); what must hold is a decided check.
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = store.results();
    let lost = &results["checkers"]["lost-writes"];
    assert!(
        lost["valid"] == true || lost["valid"] == false,
        "{results:#}"
    );
    // Both faults took effect: a nemesis completion without an error (a failed fault is also
    // an `info` completion, with the error), and the partition names the links it cut.
    let ops = store.history();
    let applied = |f: &str| -> Vec<&serde_json::Value> {
        ops.iter()
            .filter(|o| o["process"] == "nemesis" && o["type"] == "info" && o["f"] == f)
            .filter(|o| o["error"].is_null())
            .collect()
    };
    assert!(!applied("kill").is_empty(), "a kill was applied");
    let partitions = applied("partition");
    assert!(!partitions.is_empty(), "a partition was applied");
    let p = &partitions[0]["value"];
    assert_eq!(p["grudge"], "isolate-master", "{p}");
    assert!(
        p["cut"].as_array().is_some_and(|c| !c.is_empty()),
        "the partition lists the links it cut: {p}"
    );
    support::assert_no_fault_failed(&ops);
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
}

/// Starts a long run over SSH and waits until it writes its history.
fn start_long_run(store: &Store, flags: &[String]) -> std::process::Child {
    let mut child = redline()
        .arg("test")
        .args(args(
            flags,
            &[
                "--workload",
                "set",
                "--nemesis",
                "partition:isolate-master",
                "--time-limit",
                "60",
                "--nemesis-interval",
                "1",
            ],
        ))
        .arg("--store")
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("redline starts");
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        let lines = std::fs::read_link(store.path().join("latest"))
            .and_then(|l| std::fs::read_to_string(l.join("history.jsonl")))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines > 50 {
            // Let a partition go in, so there are rules to remove too.
            std::thread::sleep(Duration::from_millis(2500));
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the run never started writing its history");
}

/// The run's SSH control folder, from its `ssh.json` (read while the run is going).
fn control_dir(store: &Store) -> String {
    let text = std::fs::read_to_string(store.latest().join("ssh.json")).expect("ssh.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["control_dir"].as_str().expect("control_dir").to_string()
}

/// SSH processes whose command line names the run's control folder (its control masters).
fn control_masters(dir: &str) -> Vec<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-a", "-f", dir])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// A signal to the harness heals, stops the servers on the hosts and removes what the run
/// put there, leaving a history `redline check` reads.
fn interrupted_over_ssh_leaves_nothing(signal: libc::c_int) {
    let hosts = SshHosts::create(3);
    let store = Store::new();
    let mut child = start_long_run(&store, &hosts.flags(&MEMBERS));
    assert_eq!(hosts.redis_servers().len(), 3, "servers were running");
    let control = control_dir(&store);
    assert!(!control_masters(&control).is_empty());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let status = support::wait_exit(&mut child, 40);
    assert_eq!(status.code(), Some(2), "an interrupted run cannot decide");
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
    assert!(!store.latest().join("ssh.json").exists());
    assert_eq!(control_masters(&control), Vec::<String>::new());
    assert!(!std::path::Path::new(&control).exists());
    let out = redline()
        .arg("check")
        .arg(store.latest().join("history.jsonl"))
        .output()
        .unwrap();
    // Interrupted before its final reads, the history is readable and checked (lost writes
    // cannot be judged without final reads: "unknown" is the honest verdict).
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verdict:"),
        "{out:?}"
    );
}

#[test]
fn sigterm_over_ssh_heals_and_leaves_nothing() {
    skip_unless_ssh_hosts!();
    interrupted_over_ssh_leaves_nothing(libc::SIGTERM);
}

#[test]
fn sigint_over_ssh_heals_and_leaves_nothing() {
    skip_unless_ssh_hosts!();
    interrupted_over_ssh_leaves_nothing(libc::SIGINT);
}

#[test]
fn sigkill_then_cleanup_over_ssh_leaves_nothing() {
    skip_unless_ssh_hosts!();
    let hosts = SshHosts::create(3);
    let store = Store::new();
    let mut child = start_long_run(&store, &hosts.flags(&MEMBERS));
    child.kill().unwrap();
    let _ = child.wait();
    // The harness is gone and could not tear down: everything is still on the hosts.
    let before = hosts.leftovers();
    assert!(
        before.iter().any(|l| l.starts_with("process")),
        "{before:?}"
    );
    assert!(before.iter().any(|l| l.starts_with("folder")), "{before:?}");
    let control = control_dir(&store);
    let masters = control_masters(&control);
    assert!(
        !masters.is_empty(),
        "the run's SSH control masters outlive it"
    );

    let out = support::cleanup(&store);
    assert_exit(&out, 0);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("killed"), "{said}");
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
    assert_eq!(control_masters(&control), Vec::<String>::new());
    assert!(!std::path::Path::new(&control).exists());
    assert!(!store.latest().join("ssh.json").exists());
}

/// The Sentinel split-brain experiment on SSH hosts: three nodes and three Sentinels on six
/// hosts; the master is cut off from the Sentinels and replicas (nftables rules on the hosts),
/// not from its clients; its acknowledged writes are lost after healing, and split-brain is
/// named.
#[test]
fn sentinel_split_brain_over_ssh_loses_acknowledged_writes() {
    skip_unless_ssh_hosts!();
    let hosts = SshHosts::create(6);
    let store = Store::new();
    let flags = hosts.flags(&["n1", "n2", "n3", "s1", "s2", "s3"]);
    let out = run_test(&store, &args(&flags, support::SPLIT_BRAIN));
    assert_exit(&out, 1);
    let r = store.results();
    let lost = r["checkers"]["lost-writes"]["stats"]["lost"]
        .as_u64()
        .unwrap();
    assert!(lost > 0, "acknowledged writes of the old master are lost");
    assert_eq!(r["checkers"]["split-brain"]["valid"], false, "{r:#}");
    let history = std::fs::read_to_string(store.latest().join("history.jsonl")).unwrap();
    assert!(history.contains("+switch-master"));
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
}
