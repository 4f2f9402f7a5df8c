//! A run that did not run every planned part is never recorded, re-rendered or listed as
//! valid. An interrupted run (SIGINT) used to exit 2 while its results.json said `"valid":
//! true` and `redline report` re-rendered it valid (exit 0); a SIGKILLed run left no results,
//! and `redline report` then wrote `"valid": true` for it, which `redline runs` listed; a run
//! whose disk filled up was still checked as valid.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::{assert_exit, redline, runs_table, spawn_test, wait_for_history, Store};

fn start_run(store: &Store) -> std::process::Child {
    // Its checkers judge without final reads: a history cut short looks valid to them.
    let args = [
        "--workload",
        "register",
        "--read-from",
        "master",
        "--nemesis",
        "none",
    ];
    spawn_test(
        store,
        &[&args[..], &["--replicas", "1", "--time-limit", "30"]].concat(),
    )
}

fn signal_and_wait(child: &mut std::process::Child, signal: libc::c_int) -> Option<i32> {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "redline did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `redline report RUN` exits 2 and does not call the run valid; `redline runs` lists it as
/// unknown and incomplete.
fn assert_report_and_runs_say_incomplete(store: &Store, run: &Path) {
    let out = redline().arg("report").arg(run).output().unwrap();
    assert_exit(&out, 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict: unknown"), "{stdout}");
    assert!(stdout.contains("incomplete: "), "{stdout}");
    assert_eq!(json(&run.join("results.json"))["valid"], "unknown");
    let (code, table) = runs_table(store.path());
    assert_eq!(code, Some(0));
    assert!(table.contains("unknown (incomplete)"), "{table}");
    assert!(!table.contains(" valid "), "{table}");
}

#[test]
fn an_interrupted_run_is_recorded_as_incomplete() {
    let store = Store::new();
    let mut child = start_run(&store);
    let run = wait_for_history(&store);
    assert_eq!(signal_and_wait(&mut child, libc::SIGINT), Some(2));
    let results = json(&run.join("results.json"));
    assert_eq!(results["valid"], "unknown", "{results}");
    let incomplete = results["incomplete"].to_string();
    assert!(incomplete.contains("interrupted"), "{incomplete}");
    let test = json(&run.join("test.json"));
    assert_eq!(test["interrupted"], true, "{test}");
    assert!(test["duration_ms"].is_u64(), "the finish record is written");
    assert!(test["incomplete"].to_string().contains("interrupted"));
    assert_report_and_runs_say_incomplete(&store, &run);
}

#[test]
fn a_killed_run_without_a_finish_record_is_incomplete() {
    let store = Store::new();
    let mut child = start_run(&store);
    let run = wait_for_history(&store);
    assert_eq!(signal_and_wait(&mut child, libc::SIGKILL), None);
    // Its servers live on: cleanup stops them (the store's drop would too).
    let out = redline()
        .args(["cleanup", "--store"])
        .arg(store.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(!run.join("results.json").exists());
    let test = json(&run.join("test.json"));
    assert!(test.get("duration_ms").is_none(), "{test}");
    let (_, table) = runs_table(store.path());
    assert!(table.contains("unknown (incomplete)"), "{table}");
    assert_report_and_runs_say_incomplete(&store, &run);
    let stdout =
        String::from_utf8_lossy(&redline().arg("report").arg(&run).output().unwrap().stdout)
            .to_string();
    assert!(stdout.contains("no finish record"), "{stdout}");
}

/// A tmpfs of `size` mounted over a fresh folder (root only), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let store = self.dir.path().join("store");
        let _ = redline().args(["cleanup", "--store"]).arg(&store).output();
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_run_whose_disk_fills_up_is_never_valid() {
    let Some(disk) = SmallDisk::mount("512k") else {
        eprintln!("SKIPPED: mounting a small tmpfs needs root");
        return;
    };
    let store = disk.dir.path().join("store");
    let out = redline()
        .args(["test", "--workload", "register", "--read-from", "master"])
        .args(["--nemesis", "none", "--replicas", "1", "--time-limit", "3"])
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let run = std::fs::read_link(store.join("latest")).unwrap();
    if let Ok(text) = std::fs::read_to_string(run.join("results.json")) {
        let results: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_ne!(results["valid"], true, "{results}");
    }
    let (_, table) = runs_table(&store);
    assert!(table.contains("(incomplete)"), "{table}");
    assert!(!table.contains(" valid "), "{table}");
}
