//! `ssh.json`: what an SSH run set up, written to the run folder before anything is started on
//! a host, so that `redline cleanup` can undo it when the harness was killed (SIGKILL, a crash)
//! and could not tear down: it ends the run's SSH control masters, reconnects to each host,
//! kills the run's servers, deletes the run's nftables table and removes its remote folder.
//! Nothing else on the hosts is touched: every step is keyed by the run's tag.

use super::hosts::HostLayout;
use super::remote::{Remote, SshLogin};
use super::scripts;
use crate::cluster::netns::Tag;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The record's file name in the run folder.
pub const SSH_FILE: &str = "ssh.json";

/// What an SSH run set up, and how to reach it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SshRecord {
    /// The harness process (cleanup leaves a live harness's run alone).
    pub harness: u32,
    pub tag: Tag,
    pub login: SshLogin,
    pub remote_dir: String,
    pub layout: HostLayout,
    /// Where the run's SSH control sockets live on this machine.
    pub control_dir: PathBuf,
}

impl SshRecord {
    /// Writes the record into `run_dir` and returns its path.
    pub fn write(&self, run_dir: &Path) -> Result<PathBuf> {
        let path = run_dir.join(SSH_FILE);
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// What an SSH cleanup did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SshCleanup {
    /// One line per thing removed, with the member it was on.
    pub removed: Vec<String>,
    /// What could not be done, with why.
    pub failures: Vec<String>,
}

/// Cleans up the SSH runs recorded under `store` whose harness is no longer running, and removes
/// their records once every host is clean.
pub async fn cleanup_recorded(store: &Path) -> Result<SshCleanup> {
    let mut report = SshCleanup::default();
    for file in crate::cluster::pids::find_run_files(store, SSH_FILE) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(record) = serde_json::from_str::<SshRecord>(&text) else {
            report
                .failures
                .push(format!("{}: not an ssh.json redline wrote", file.display()));
            continue;
        };
        if crate::cluster::pids::harness_alive(record.harness) {
            continue;
        }
        let before = report.failures.len();
        cleanup_run(&record, &mut report).await;
        if report.failures.len() == before {
            let _ = std::fs::remove_file(&file);
        }
    }
    Ok(report)
}

/// Undoes one run: control masters first (they may hold forwards), then on every host its
/// servers and table, and only then, on every host, its folder (hosts may share a filesystem).
async fn cleanup_run(record: &SshRecord, report: &mut SshCleanup) {
    // The record's values go into root shell scripts on the hosts: check them first.
    let Some(tag) = Tag::parse(record.tag.as_str()) else {
        report.failures.push(format!(
            "ssh.json names {:?}, not a redline run tag",
            record.tag.as_str()
        ));
        return;
    };
    if !record.remote_dir.starts_with('/') || record.remote_dir.trim_end_matches('/').is_empty() {
        report.failures.push(format!(
            "ssh.json names remote folder {:?}, not an absolute folder other than /",
            record.remote_dir
        ));
        return;
    }
    for socket in control_sockets(&record.control_dir) {
        let ended = std::process::Command::new("ssh")
            .arg("-S")
            .arg(&socket)
            .args(["-O", "exit", "redline-cleanup"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ended {
            report
                .removed
                .push(format!("SSH control master {}", socket.display()));
        }
    }
    let _ = std::fs::remove_dir_all(&record.control_dir);
    let fresh = std::env::temp_dir().join(format!("redline-ssh-cleanup-{}", tag.hex()));
    if let Err(e) = std::fs::create_dir_all(&fresh) {
        report.failures.push(format!("{}: {e}", fresh.display()));
        return;
    }
    let servers = scripts::sweep_servers(
        &record.remote_dir,
        tag.as_str(),
        &format!("$3 == \"{}\"", tag.table()),
        "",
    );
    let folders = scripts::sweep_folders(&record.remote_dir, tag.as_str(), "");
    let mut reached = Vec::new();
    for spec in record.layout.members() {
        let stopped = async {
            let remote = Remote::connect(spec, &record.login, &fresh).await?;
            let out = remote.run("stopping the run's servers", &servers).await?;
            anyhow::Ok((remote, out))
        };
        match stopped.await {
            Ok((remote, out)) => {
                report
                    .removed
                    .extend(out.lines().map(|l| format!("{}: {l}", spec.name)));
                reached.push(remote);
            }
            Err(e) => report.failures.push(format!("{e:#}")),
        }
    }
    // A host that could not be reached may still run a server whose pid file is in a shared
    // folder: keep every folder then, for the next cleanup.
    if reached.len() == record.layout.members().count() {
        for remote in &reached {
            match remote.run("removing the run folder", &folders).await {
                Ok(out) => report
                    .removed
                    .extend(out.lines().map(|l| format!("{}: {l}", remote.member))),
                Err(e) => report.failures.push(format!("{e:#}")),
            }
        }
    }
    drop(reached);
    let _ = std::fs::remove_dir_all(&fresh);
}

/// The control sockets under a run's control folder (`<dir>/.ssh-connection*/master`).
fn control_sockets(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path().join("master"))
        .filter(|p| p.exists())
        .collect()
}
