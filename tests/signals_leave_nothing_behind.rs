//! Interrupting a run (SIGINT, SIGTERM) heals, stops every server it started, and leaves a
//! history that `redline check` reads; a SIGKILLed harness is cleaned up by `redline cleanup`.
//! The same on netns hosts, where nothing of the run's network (namespaces, veth, bridge,
//! nftables tables) may remain either.

mod support;

use std::time::{Duration, Instant};
use support::{redline, servers_under, spawn_test, wait_for_history, Store};

fn start_run(store: &Store, extra: &[&str]) -> std::process::Child {
    let mut args = vec![
        "--workload",
        "set",
        "--nemesis",
        "pause",
        "--time-limit",
        "30",
        "--nemesis-interval",
        "1",
    ];
    args.extend_from_slice(extra);
    spawn_test(store, &args)
}

/// The run's bridge name (`rl-<tag>-br`), read from its netns record while it runs.
fn bridge_of(store: &Store) -> String {
    let text = std::fs::read_to_string(store.latest().join("netns.json"))
        .expect("netns.json while running");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["bridge"].as_str().expect("bridge name").to_string()
}

/// No namespace, link or nftables table of the run whose bridge is `bridge` remains.
fn assert_nothing_of(bridge: &str) {
    let tag = bridge.trim_end_matches("-br").to_string();
    let listing = |cmd: &str, args: &[&str]| {
        let out = std::process::Command::new(cmd).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(
        !listing("ip", &["netns", "list"]).contains(&tag),
        "namespaces of {tag} left"
    );
    assert!(
        !listing("ip", &["link"]).contains(&tag),
        "links of {tag} left"
    );
    let table = tag.replace("rl-", "redline_");
    assert!(
        !listing("nft", &["list", "tables"]).contains(&table),
        "nft table of {tag} left"
    );
}

fn netns_available() -> bool {
    let ok = redline::cluster::netns::unavailable().is_none();
    if !ok {
        eprintln!("SKIPPED: --net netns needs root, ip netns and nft");
    }
    ok
}

fn interrupt_and_check(signal: libc::c_int, extra: &[&str]) {
    let store = Store::new();
    let mut child = start_run(&store, extra);
    wait_for_history(&store);
    let bridge = extra.contains(&"netns").then(|| bridge_of(&store));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !servers_under(store.path()).is_empty(),
        "servers were running"
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "redline did not exit after the signal"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(2), "an interrupted run cannot decide");
    assert!(
        servers_under(store.path()).is_empty(),
        "servers left behind after the signal"
    );
    let history = store.latest().join("history.jsonl");
    let out = redline().arg("check").arg(&history).output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0) | Some(1) | Some(2)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("line "),
        "history parses"
    );
    if let Some(bridge) = bridge {
        assert_nothing_of(&bridge);
    }
}

fn killed_harness_is_cleaned_up(extra: &[&str]) {
    let store = Store::new();
    let mut child = start_run(&store, extra);
    wait_for_history(&store);
    let bridge = extra.contains(&"netns").then(|| bridge_of(&store));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        !servers_under(store.path()).is_empty(),
        "a SIGKILLed harness leaves its servers"
    );
    let out = support::cleanup(&store);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        servers_under(store.path()).is_empty(),
        "cleanup stopped them"
    );
    if let Some(bridge) = bridge {
        assert_nothing_of(&bridge);
    }
}

#[test]
fn sigint_heals_and_stops_everything() {
    interrupt_and_check(libc::SIGINT, &[]);
}

#[test]
fn sigterm_heals_and_stops_everything() {
    interrupt_and_check(libc::SIGTERM, &[]);
}

#[test]
fn cleanup_stops_what_a_killed_harness_left() {
    killed_harness_is_cleaned_up(&[]);
}

#[test]
fn sigint_on_netns_hosts_removes_namespaces_and_rules() {
    if netns_available() {
        interrupt_and_check(libc::SIGINT, &["--net", "netns"]);
    }
}

#[test]
fn sigterm_on_netns_hosts_removes_namespaces_and_rules() {
    if netns_available() {
        interrupt_and_check(libc::SIGTERM, &["--net", "netns"]);
    }
}

#[test]
fn cleanup_removes_what_a_killed_netns_harness_left() {
    if netns_available() {
        killed_harness_is_cleaned_up(&["--net", "netns"]);
    }
}
