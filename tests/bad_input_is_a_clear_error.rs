//! Bad input gets a clear error and exit status 2, never a panic.

mod support;

use support::{assert_exit, redline, walk};

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

/// `--nodes` and its SSH options are checked before anything is contacted; a host where no
/// sshd answers (a closed port on loopback) is an error naming the member, the host and what to
/// try, and nothing is left behind.
#[test]
fn bad_ssh_hosts_are_clear_errors() {
    let store = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--nodes", "n1=a,n1=b"], "expected n2"),
        (&["--nodes", "n1=a,n2=a"], "host of its own"),
        (&["--nodes", "n1=a:99999"], "not a port number"),
        (&["--net", "ssh"], "--net ssh needs --nodes"),
        (&["--nodes", "n1=a", "--net", "netns"], "cannot be combined"),
        (
            &["--nodes", "n1=a", "--ssh-key", "/nonexistent/key"],
            "no such file",
        ),
        (&["--nodes", "n1=a,n2=b", "--nemesis", "delay"], "delay"),
        (
            &["--nodes", "n1=a,n2=b", "--remote-dir", "relative"],
            "absolute",
        ),
    ];
    for (args, want) in cases {
        let out = redline()
            .arg("test")
            .args(*args)
            .arg("--store")
            .arg(store.path())
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = redline()
        .args(["test", "--nodes", "n1=127.0.0.1:1", "--read-from", "master"])
        .arg("--store")
        .arg(store.path())
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connecting to n1 (root@127.0.0.1:1)") && err.contains("ssh -p 1"),
        "{err}"
    );
    let leftovers: Vec<_> = walk(store.path())
        .into_iter()
        .filter(|p| p.ends_with("ssh.json"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
