//! The run's pid file (`pids.json` in the run folder) and the cleanup of runs whose harness
//! was killed before it could stop its processes (`redline cleanup`): their servers, then
//! their lazy disks' mounts (normally `fusermount3`'s auto-unmount has removed those already;
//! one whose helper died too is unmounted here, and only if it is a `redline-lazyfs` mount).
//!
//! A pid is only signalled when `/proc/<pid>/cwd` still lies inside the run folder, so a pid
//! the kernel has since reused for something else is never touched; it is signalled with its
//! process group, which redline created with it.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const PID_FILE: &str = "pids.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PidEntry {
    pub name: String,
    pub pid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct PidFile {
    /// The harness process.
    pub harness: u32,
    /// Every server process currently running for the run.
    pub processes: Vec<PidEntry>,
    /// The run's lazy disk mounts (none unless the run asked for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<PathBuf>,
}

impl PidFile {
    /// Writes the file atomically (write + rename), so a reader never sees half of it.
    pub fn write(&self, run_dir: &Path) -> Result<()> {
        let tmp = run_dir.join(format!("{PID_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, run_dir.join(PID_FILE))?;
        Ok(())
    }
}

/// What `redline cleanup` did.
#[derive(Debug, Default)]
pub struct CleanupReport {
    pub killed: Vec<String>,
    /// Mounts of lazy disks that were still there, unmounted.
    pub unmounted: Vec<String>,
    /// What could not be undone (the pid file is then kept for another try).
    pub failures: Vec<String>,
    pub runs_scanned: usize,
}

/// Kills every still-running server process recorded in a pid file under `store`, for runs
/// whose harness is no longer alive; removes the pid files of finished runs.
pub fn cleanup_store(store: &Path) -> Result<CleanupReport> {
    let mut report = CleanupReport::default();
    for file in find_run_files(store, PID_FILE) {
        report.runs_scanned += 1;
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(pids) = serde_json::from_str::<PidFile>(&text) else {
            continue;
        };
        let run_dir = file.parent().unwrap_or(store);
        if harness_alive(pids.harness) {
            continue; // that run is still going; its own harness will clean up
        }
        let mut signalled = Vec::new();
        for entry in &pids.processes {
            if alive(entry.pid) && belongs_to_run(entry.pid, run_dir) {
                // A recorded pid leads the process group redline created for it: the group goes
                // too, so a server that a `--server-bin` wrapper forked is not left behind.
                let target = match super::process::process_group(entry.pid) {
                    Some(group) if group == entry.pid => -(entry.pid as libc::pid_t),
                    _ => entry.pid as libc::pid_t,
                };
                // SAFETY: plain signal delivery; the pid was checked to be this run's server.
                unsafe {
                    libc::kill(target, libc::SIGKILL);
                }
                signalled.push(target);
                report.killed.push(format!(
                    "{} (pid {}) of {}",
                    entry.name,
                    entry.pid,
                    run_dir.display()
                ));
            }
        }
        // SIGKILL is delivered at once but a process takes a moment to exit (closing its files
        // on a dead mount): "stopped" is only said of what is gone.
        let survivors = wait_for_exit(&signalled, EXIT_PATIENCE);
        for target in &survivors {
            report.failures.push(format!(
                "process (group) {target} still running after SIGKILL"
            ));
        }
        // After the servers: a mount their open files hold is detached lazily all the same.
        let mut unmounted_all = true;
        for mount in &pids.mounts {
            match redline_lazyfs::unmount_stale(mount) {
                Ok(true) => report.unmounted.push(mount.display().to_string()),
                Ok(false) => {}
                Err(e) => {
                    unmounted_all = false;
                    report.failures.push(format!("{e:#}"));
                }
            }
        }
        if unmounted_all && survivors.is_empty() {
            let _ = std::fs::remove_file(&file);
        }
    }
    Ok(report)
}

/// How long `redline cleanup` waits for the processes it killed to exit.
const EXIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until every signalled target (a pid, or a process group as a negative number) has
/// exited: no process left, or only zombies (whose parent, often `init`, reaps them in its own
/// time). Returns the targets still running at the deadline.
fn wait_for_exit(targets: &[libc::pid_t], patience: std::time::Duration) -> Vec<libc::pid_t> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        // One pass over /proc a round: the running processes and their groups.
        let live: Vec<(u32, u32)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((pid, running(&e.path())?))
            })
            .collect();
        let running: Vec<libc::pid_t> = targets
            .iter()
            .copied()
            .filter(|&t| {
                let (id, by_group) = (t.unsigned_abs(), t < 0);
                live.iter()
                    .any(|&(pid, group)| if by_group { group == id } else { pid == id })
            })
            .collect();
        if running.is_empty() || std::time::Instant::now() >= deadline {
            return running;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The process group of the process whose `/proc` folder this is, if that process still runs:
/// it exists and is not a zombie, or its main thread is a zombie while other threads of it
/// still run (they hold its files until the last one exits).
fn running(proc_dir: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    // After the command name (which may hold spaces): state, ppid, pgrp.
    let mut fields = stat.rsplit_once(") ")?.1.split(' ');
    let state = fields.next()?;
    let group = fields.nth(1)?.parse().ok()?;
    let threads = || {
        std::fs::read_dir(proc_dir.join("task"))
            .map(|t| t.count())
            .unwrap_or(0)
    };
    match state {
        "X" => None,
        "Z" if threads() <= 1 => None,
        _ => Some(group),
    }
}

/// Files named `name` in the run folders under `root` (at most three levels down): the records
/// runs leave for `redline cleanup` (pid files, `netns.json`, `ssh.json`).
pub fn find_run_files(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir && depth < 3 {
                stack.push((path, depth + 1));
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Whether the harness of a recorded run is still running (another redline process than this
/// one): its own teardown will clean up, so `redline cleanup` leaves the run alone.
pub fn harness_alive(pid: u32) -> bool {
    pid != std::process::id() && alive(pid) && cmdline(pid).contains("redline")
}

/// A server of this run: it works in a folder inside the run folder, or writes its stdout to a
/// file there (redline starts every server in its node folder with its output going to
/// `stdout.log` there; servers rewrite their command line, so that cannot be used). The second
/// test is needed because a server moves to its `dir`: on a lazy disk that is a mount, and once
/// the mount is detached (its `fusermount3` helper unmounts it when a killed harness's FUSE
/// connection closes) the kernel shows that working folder as `/`.
fn belongs_to_run(pid: u32, run_dir: &Path) -> bool {
    let dir = run_dir
        .canonicalize()
        .unwrap_or_else(|_| run_dir.to_path_buf());
    let inside = |link: &str| {
        std::fs::read_link(format!("/proc/{pid}/{link}")).is_ok_and(|p| p.starts_with(&dir))
    };
    inside("cwd") || inside("fd/1")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server started through a wrapper that does not `exec` is the wrapper's child: cleanup
    /// kills the whole process group redline created, not only the pid it recorded.
    #[test]
    fn cleanup_kills_the_recorded_process_group() {
        use std::os::unix::process::CommandExt as _;
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("t").join("20260101T000000");
        std::fs::create_dir_all(&run).unwrap();
        let mut wrapper = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $! > child; wait"])
            .current_dir(&run)
            .process_group(0)
            .spawn()
            .unwrap();
        let child_file = run.join("child");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let child: u32 = loop {
            if let Some(pid) = std::fs::read_to_string(&child_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the wrapper never forked"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        PidFile {
            harness: 999_999_999,
            processes: vec![PidEntry {
                name: "n1".into(),
                pid: wrapper.id(),
            }],
            mounts: Vec::new(),
        }
        .write(&run)
        .unwrap();
        cleanup_store(dir.path()).unwrap();
        let _ = wrapper.wait();
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .map_or(true, |s| s.contains(") Z"))
        });
        if !gone {
            // SAFETY: plain signal delivery to the test's own grandchild.
            unsafe { libc::kill(child as libc::pid_t, libc::SIGKILL) };
        }
        assert!(gone, "the wrapper's child {child} survived cleanup");
    }

    #[test]
    fn cleanup_kills_only_processes_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("t").join("20260101T000000");
        std::fs::create_dir_all(&run).unwrap();
        // A stand-in server working inside the run folder, and a bystander.
        let mut ours = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(&run)
            .spawn()
            .unwrap();
        let mut bystander = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        PidFile {
            harness: 999_999_999,
            processes: vec![
                PidEntry {
                    name: "n1".into(),
                    pid: ours.id(),
                },
                PidEntry {
                    name: "n2".into(),
                    pid: bystander.id(),
                },
            ],
            mounts: Vec::new(),
        }
        .write(&run)
        .unwrap();
        let report = cleanup_store(dir.path()).unwrap();
        let ours_status = ours.wait().unwrap();
        assert!(!ours_status.success(), "our process was killed");
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "bystander untouched"
        );
        bystander.kill().unwrap();
        let _ = bystander.wait();
        assert_eq!(report.killed.len(), 1, "{:?}", report.killed);
        assert!(!run.join(PID_FILE).exists());
    }
}
