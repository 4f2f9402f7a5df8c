//! Shared helpers for the end-to-end tests: run the real `redline` binary against real
//! `redis-server` processes in a temporary store, and look for processes a run left behind.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary store folder, removed at the end of the test.
pub struct Store {
    pub dir: tempfile::TempDir,
}

impl Store {
    pub fn new() -> Store {
        Store {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The newest run folder.
    pub fn latest(&self) -> PathBuf {
        std::fs::read_link(self.path().join("latest")).expect("store/latest link")
    }

    pub fn results(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.latest().join("results.json")).expect("results.json");
        serde_json::from_str(&text).expect("results.json parses")
    }

    /// The newest run's history, one value per operation.
    pub fn history(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.latest().join("history.jsonl"))
            .expect("history.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a history line parses"))
            .collect()
    }
}

impl Drop for Store {
    /// Whatever a failed assertion left running under this store is stopped: a test must not
    /// leave servers behind even when it fails halfway. The folder of a failed test is kept,
    /// and its path printed: a live run that failed once in CI is evidence, not noise.
    fn drop(&mut self) {
        let _ = redline()
            .arg("cleanup")
            .arg("--store")
            .arg(self.path())
            .output();
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!("kept the failed test's store: {}", self.path().display());
        }
    }
}

/// The `redline` binary built for these tests.
pub fn redline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redline"))
}

/// Runs `redline cleanup --store` on `store` and returns its output.
pub fn cleanup(store: &Store) -> Output {
    redline()
        .arg("cleanup")
        .arg("--store")
        .arg(store.path())
        .output()
        .expect("redline cleanup runs")
}

/// The split-brain experiment, on any backend with three Sentinels: the master is cut from a
/// minority's side, the majority fails over, and the old master's acknowledged writes are lost.
pub const SPLIT_BRAIN: &[&str] = &[
    "--workload",
    "set",
    "--nemesis",
    "partition:minority",
    "--time-limit",
    "10",
    "--nemesis-interval",
    "2",
    "--fault-duration",
    "7",
    // Sentinel retries a failed leader election (a split vote) after twice the failover
    // timeout: 1.5 s keeps a retry inside the partition, so the experiment does not depend
    // on the first election's luck.
    "--sentinel-failover-timeout",
    "1500",
    "--seed",
    "11",
    // Clients at full speed (two such runs side by side, as the test files run them) starved
    // the Sentinels of CPU on two cores: one entered TILT, the failover came after the heal,
    // and the run rightly lost nothing. The experiment needs a failover, not throughput.
    "--rate",
    "2000",
];

/// Runs `redline test` with `args` in `store` and returns its output.
pub fn run_test(store: &Store, args: &[&str]) -> Output {
    redline()
        .arg("test")
        .args(args)
        .arg("--store")
        .arg(store.path())
        .output()
        .expect("redline runs")
}

/// Pids of server processes working inside `dir` (a run or store folder), or writing their
/// output there: redline starts every server in its node folder, with its stdout in
/// `stdout.log` there (a server whose working folder was a lazy disk's mount, detached since,
/// shows `/` as its working folder).
pub fn servers_under(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let inside = |link: &str| {
            std::fs::read_link(entry.path().join(link)).is_ok_and(|c| c.starts_with(&dir))
        };
        let in_dir = inside("cwd") || inside("fd/1");
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if in_dir && !comm.starts_with("redline") {
            pids.push(pid);
        }
    }
    pids
}

/// Exit code, with the output shown when it is not the expected one.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every entry below `dir` that is not a folder (files and links), depth first.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Waits (at most 30 s) until the newest run's history has some lines (the cluster is up and
/// clients are going) and returns that run's folder.
pub fn wait_for_history(store: &Store) -> PathBuf {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Ok(run) = std::fs::read_link(store.path().join("latest")) {
            let lines = std::fs::read_to_string(run.join("history.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if lines > 50 {
                return run;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the run never started writing its history");
}

/// Starts `redline test` with `args` in `store` in the background, its output discarded.
pub fn spawn_test(store: &Store, args: &[&str]) -> std::process::Child {
    redline()
        .arg("test")
        .args(args)
        .arg("--store")
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("redline starts")
}

/// `redline runs --store <store>`: its exit code and table.
pub fn runs_table(store: &Path) -> (Option<i32>, String) {
    let out = redline()
        .args(["runs", "--store"])
        .arg(store)
        .output()
        .expect("redline runs");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), table)
}

/// Waits (at most `secs` seconds) until `child` exits, and returns how it exited.
pub fn wait_exit(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "redline did not exit");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Asserts that no nemesis operation of the history `ops` failed (a fault that did nothing is
/// recorded with its error).
pub fn assert_no_fault_failed(ops: &[serde_json::Value]) {
    let failed: Vec<_> = ops
        .iter()
        .filter(|o| o["process"] == "nemesis" && !o["error"].is_null())
        .collect();
    assert!(failed.is_empty(), "faults failed: {failed:?}");
}
