//! Shared helpers for the tests of lazy disks (the `power-loss` fault and slow disks): skip
//! where this machine cannot mount FUSE, list the mounts a run left, read its power losses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Why lazy disks cannot be mounted here (no `/dev/fuse`, no `fusermount3`), if so.
pub fn skip_reason() -> Option<&'static str> {
    redline_lazyfs::unavailable()
}

/// Returns early from a test, saying why, when the machine cannot mount lazy disks.
#[macro_export]
macro_rules! skip_unless_lazy_disk {
    () => {
        if let Some(why) = lazy_disk_support::skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// Every FUSE mount (any FUSE file system) below `dir`, from `/proc/mounts`: what
/// `grep fuse /proc/mounts` would show of a run.
pub fn fuse_mounts_under(dir: &Path) -> Vec<PathBuf> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let text = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let (target, kind) = (fields.get(1)?, fields.get(2)?);
            (kind.starts_with("fuse")).then(|| PathBuf::from(target.replace("\\040", " ")))
        })
        .filter(|target| target.starts_with(&dir))
        .collect()
}

/// The completions of the run's `power-loss` faults, from its history.
pub fn power_losses(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("history.jsonl")).expect("history.jsonl");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|op| op["f"] == "power-loss" && op["type"] == "info")
        .collect()
}

/// Bytes the run's power losses dropped, over every node and file.
pub fn dropped_bytes(losses: &[serde_json::Value]) -> u64 {
    losses
        .iter()
        .filter_map(|op| op["value"]["lost"].as_object())
        .flat_map(|by_node| by_node.values())
        .filter_map(|loss| loss["files"].as_array())
        .flatten()
        .filter_map(|f| f["dropped_bytes"].as_u64())
        .sum()
}

/// Pids of the `fusermount3` helpers that `parent` started (one per mount, for
/// `auto_unmount`).
pub fn fusermount_helpers_of(parent: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid = rest.split(' ').nth(1).and_then(|p| p.parse::<u32>().ok());
        if comm.ends_with("(fusermount3") && ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// What a failed unmount assertion needs to be understood: every `fusermount3` helper and
/// every process holding `/dev/fuse`, with its parent and state.
pub fn fuse_holders() -> String {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let holds_fuse = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == Path::new("/dev/fuse")));
        if holds_fuse || stat.contains("(fusermount3)") {
            let fields: Vec<&str> = stat.split(' ').take(4).collect();
            out.push(format!(
                "{} holds /dev/fuse: {holds_fuse}",
                fields.join(" ")
            ));
        }
    }
    out.join("; ")
}

/// Pid, state, parent, working folder and stdout of each process, for an assertion message.
pub fn describe_processes(pids: &[u32]) -> String {
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let link = |l: &str| std::fs::read_link(format!("/proc/{pid}/{l}")).ok();
            format!(
                "[{} cwd {:?} stdout {:?}]",
                stat.split(' ').take(4).collect::<Vec<_>>().join(" "),
                link("cwd"),
                link("fd/1")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
