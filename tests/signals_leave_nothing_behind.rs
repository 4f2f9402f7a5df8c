//! Interrupting a run (SIGINT, SIGTERM) heals, stops every server it started, and leaves a
//! history that `redline check` reads; a SIGKILLed harness is cleaned up by `redline cleanup`.

mod support;

use std::time::{Duration, Instant};
use support::{redline, servers_under, Store};

fn start_run(store: &Store) -> std::process::Child {
    redline()
        .args([
            "test",
            "--workload",
            "set",
            "--nemesis",
            "pause",
            "--time-limit",
            "30",
            "--nemesis-interval",
            "1",
        ])
        .arg("--store")
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("redline starts")
}

/// Waits until the run's history has some lines (the cluster is up and clients are going).
fn wait_for_history(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(link) = std::fs::read_link(store.path().join("latest")) {
            let lines = std::fs::read_to_string(link.join("history.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if lines > 50 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the run never started writing its history");
}

fn interrupt_and_check(signal: libc::c_int) {
    let store = Store::new();
    let mut child = start_run(&store);
    wait_for_history(&store);
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
}

#[test]
fn sigint_heals_and_stops_everything() {
    interrupt_and_check(libc::SIGINT);
}

#[test]
fn sigterm_heals_and_stops_everything() {
    interrupt_and_check(libc::SIGTERM);
}

#[test]
fn cleanup_stops_what_a_killed_harness_left() {
    let store = Store::new();
    let mut child = start_run(&store);
    wait_for_history(&store);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        !servers_under(store.path()).is_empty(),
        "a SIGKILLed harness leaves its servers"
    );
    let out = redline()
        .arg("cleanup")
        .arg("--store")
        .arg(store.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        servers_under(store.path()).is_empty(),
        "cleanup stopped them"
    );
}
