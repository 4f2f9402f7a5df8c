//! Shared helpers for the netns tests: skip when the machine cannot run them, start a small
//! netns cluster, and list what a run may have left behind (with `cluster_support`'s helpers).

#![allow(dead_code)]

#[path = "../cluster_support/mod.rs"]
mod shared;

use redline::cluster::netns::{self, NetnsCluster};
#[allow(unused_imports)] // each test binary uses its own few
pub use shared::{eventually, link_up, live_servers_under, spec, spec_with, write_is_read_back};
use std::path::Path;
use std::time::{Duration, Instant};

/// Why these tests cannot run here (not root, no `ip netns`, no `nft`, no server), if so.
pub fn skip_reason() -> Option<String> {
    if let Some(why) = netns::unavailable() {
        return Some(why);
    }
    redline::provision::locate_server(None, false)
        .err()
        .map(|e| format!("no redis-server: {e:#}"))
}

/// Returns early from a test, saying why, when the machine cannot run it.
#[macro_export]
macro_rules! skip_unless_netns {
    () => {
        if let Some(why) = netns_support::skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// A master and two replicas in namespaces, fast failure detection, no snapshots.
pub async fn cluster(dir: &Path) -> NetnsCluster {
    cluster_with_sentinels(dir, 0).await
}

/// [`cluster`] with `sentinels` Sentinels (1 s down-after, 3 s failover timeout).
pub async fn cluster_with_sentinels(dir: &Path, sentinels: usize) -> NetnsCluster {
    NetnsCluster::start(spec(dir, sentinels))
        .await
        .expect("netns cluster starts")
}

fn sh(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .expect("runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Everything carrying `tag` that still exists: namespaces (`ip netns list`), links and
/// bridges (`ip link`), nftables tables in the root namespace (`nft list tables`), and live
/// server processes working under `dir` (/proc).
pub fn leftovers(tag: &str, dir: &Path) -> Vec<String> {
    let hex = tag.trim_start_matches("rl-");
    let mut found: Vec<String> = sh("ip", &["netns", "list"])
        .lines()
        .filter(|l| l.contains(tag))
        .map(|l| format!("namespace {l}"))
        .collect();
    found.extend(
        sh("ip", &["-o", "link", "show"])
            .lines()
            .filter(|l| l.contains(tag))
            .map(|l| format!("link {l}")),
    );
    found.extend(
        sh("nft", &["list", "tables"])
            .lines()
            .filter(|l| l.contains(hex))
            .map(|l| format!("root {l}")),
    );
    found.extend(
        live_servers_under(dir)
            .iter()
            .map(|p| format!("process {p}")),
    );
    found
}

/// Tables in namespace `ns` (empty if the namespace is gone).
pub fn tables_in(ns: &str) -> String {
    sh("ip", &["netns", "exec", ns, "nft", "list", "tables"])
}

/// The namespace a pid lives in, by `ip netns identify`.
pub fn namespace_of(pid: u32) -> String {
    sh("ip", &["netns", "identify", &pid.to_string()])
        .trim()
        .to_string()
}

/// Waits (bounded) until nothing carrying `tag` is left; returns what is left otherwise.
pub fn settle(tag: &str, dir: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = leftovers(tag, dir);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
