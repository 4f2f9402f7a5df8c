//! `redline check` reads its input exactly once and within bounds (issue #17): a history piped
//! in gets the verdict the file gets, a FIFO works, endless input is a clear error, and nothing
//! to check is never "valid". Each test is bounded in time.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{assert_exit, redline};

/// A list-append history of more than 2,000 lines whose anomaly (a G1c cycle) sits in its
/// first lines: a reader that peeks at the head and then reads the rest of a pipe loses it.
fn history_with_early_anomaly() -> String {
    let mut lines = Vec::new();
    let mut push = |p: u64, ty: &str, value: serde_json::Value| {
        let t = lines.len() as u64 * 1000;
        lines.push(
            serde_json::json!({"index": lines.len(), "time": t, "process": p,
                                      "type": ty, "f": "txn", "value": value}),
        );
    };
    // T1 and T2 each read the other's append: a write-read cycle.
    push(
        0,
        "invoke",
        serde_json::json!([["append", "x", 1], ["r", "y", null]]),
    );
    push(
        1,
        "invoke",
        serde_json::json!([["append", "y", 1], ["r", "x", null]]),
    );
    push(
        0,
        "ok",
        serde_json::json!([["append", "x", 1], ["r", "y", [1]]]),
    );
    push(
        1,
        "ok",
        serde_json::json!([["append", "y", 1], ["r", "x", [1]]]),
    );
    for i in 0..1500u64 {
        let key = format!("k{}", i % 7);
        push(2, "invoke", serde_json::json!([["append", key, i]]));
        push(2, "ok", serde_json::json!([["append", key, i]]));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Waits for a child at most `limit`, killing it past that.
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("redline check did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn verdict(out: &Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "results json; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["checkers"]["txn-cycles"]["valid"].clone()
}

#[test]
fn a_piped_history_gets_the_verdict_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.jsonl");
    let text = history_with_early_anomaly();
    std::fs::write(&path, &text).unwrap();
    let file = redline()
        .args(["check", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_exit(&file, 1);
    assert_eq!(verdict(&file), serde_json::json!(false));
    for arg in ["/dev/stdin", "-"] {
        let mut child = redline()
            .args(["check", "--json", arg])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let text = text.clone();
        let writer = std::thread::spawn(move || {
            // Small writes, as a pipe from another program would deliver them.
            for chunk in text.as_bytes().chunks(4096) {
                if stdin.write_all(chunk).is_err() {
                    break;
                }
            }
        });
        let piped = wait_bounded(child, Duration::from_secs(60));
        writer.join().unwrap();
        assert_exit(&piped, 1);
        assert_eq!(verdict(&piped), verdict(&file), "{arg}");
    }
}

#[test]
fn a_fifo_is_read_once_and_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("h.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let text = history_with_early_anomaly();
    let child = redline()
        .args(["check", "--json"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&writer_path)
            .unwrap();
        let _ = f.write_all(text.as_bytes());
    });
    let out = wait_bounded(child, Duration::from_secs(60));
    writer.join().unwrap();
    assert_exit(&out, 1);
    assert_eq!(verdict(&out), serde_json::json!(false));
}

#[test]
fn a_fifo_nobody_writes_to_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("idle.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let child = redline()
        .args(["check", "--read-timeout", "1"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(30));
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no data from"), "{err}");
}

#[test]
fn dev_zero_is_a_clear_error_in_bounded_memory() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let child = redline()
        .args(["check", "/dev/zero"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(60));
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1: record longer than"), "{err}");
}

#[test]
fn an_empty_history_is_unknown_not_valid() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("empty.jsonl", ""),
        ("blank.edn", "\n\n"),
        ("empty.json", "[]"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = redline()
            .args(["check", "--json"])
            .arg(&path)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["valid"], serde_json::json!("unknown"), "{name}");
        let notes = v["checkers"]["availability"]["notes"].to_string();
        assert!(notes.contains("no client operation"), "{name}: {notes}");
        let table = redline().arg("check").arg(&path).output().unwrap();
        assert!(
            !String::from_utf8_lossy(&table.stdout).contains("verdict: valid"),
            "{name}"
        );
    }
}

#[test]
fn a_completion_before_its_invocation_names_the_op() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.jsonl");
    std::fs::write(
        &path,
        "{\"index\":0,\"time\":900,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":1}\n\
         {\"index\":1,\"time\":100,\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"value\":1}\n",
    )
    .unwrap();
    let out = redline().arg("check").arg(&path).output().unwrap();
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("op 1: completed at time 100 ns, before its invocation (op 0)"),
        "{err}"
    );
}

#[test]
fn help_lists_the_formats_and_models() {
    let out = redline().args(["check", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "JSON lines",
        "JSON array",
        "EDN",
        "gzip",
        "register",
        "counter",
        "set",
        "list-append",
        "rw-register",
        "--consistency-models",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}
