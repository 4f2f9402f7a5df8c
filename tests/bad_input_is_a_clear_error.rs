//! Bad input gets a clear error and exit status 2, never a panic.

mod support;

use support::{assert_exit, redline};

#[test]
fn malformed_history_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.jsonl");
    std::fs::write(
        &path,
        "{\"index\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":1}\n{\"index\":1,\"process\":0,\"type\":\"okk\",\"f\":\"add\",\"value\":1}\n",
    )
    .unwrap();
    let out = redline().arg("check").arg(&path).output().unwrap();
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn truncated_last_line_is_tolerated_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.jsonl");
    std::fs::write(
        &path,
        "{\"index\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"key\":\"s\",\"value\":1}\n{\"index\":1,\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"key\":\"s\",\"value\":1}\n{\"index\":2,\"proc",
    )
    .unwrap();
    let out = redline()
        .arg("check")
        .arg(&path)
        .arg("--json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("results json");
    assert!(v["checkers"]["lost-writes"].is_object());
}

#[test]
fn missing_history_and_bad_flags_exit_2() {
    let out = redline()
        .args(["check", "/nonexistent/history.jsonl"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let out = redline()
        .args(["test", "--workload", "sets"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown workload"));
    let out = redline()
        .args(["test", "--nemesis", "explode"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let out = redline()
        .args(["test", "--concurrency", "lots"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let out = redline()
        .args([
            "test",
            "--server-bin",
            "/nonexistent/redis-server",
            "--time-limit",
            "1",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server-bin"));
}
