//! Shared helpers for the cluster tests, whatever the backend: the small cluster they start,
//! polling with a bound, a replica's link state, and the processes a run may have left.

#![allow(dead_code)]

use redline::cluster::admin::{self, ADMIN_TIMEOUT};
use redline::cluster::ClusterSpec;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A master and two replicas with `sentinels` Sentinels (1 s down-after, 3 s failover
/// timeout), fast failure detection, no snapshots, on this machine's redis-server.
pub fn spec(run_dir: &Path, sentinels: usize) -> ClusterSpec {
    let server = redline::provision::locate_server(None, false).expect("redis-server");
    spec_with(run_dir, sentinels, server.path)
}

/// [`spec`] with another server binary.
pub fn spec_with(run_dir: &Path, sentinels: usize, server_bin: PathBuf) -> ClusterSpec {
    ClusterSpec {
        replicas: 2,
        sentinels,
        server_bin,
        redis_options: vec![
            ("repl-timeout".into(), "2".into()),
            ("save".into(), "".into()),
        ],
        redis_conf: None,
        run_dir: run_dir.to_path_buf(),
        sentinel_down_after_ms: 1000,
        sentinel_failover_timeout_ms: 3000,
        sharding: None,
        link_faults: true,
        lazy_disk: None,
    }
}

/// Polls `probe` every 50 ms until it returns true or `within` passes (then panics); returns
/// the time it took.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if probe().await {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within {within:?}");
}

/// Whether the replica at admin address `addr` reports its link to the master up.
pub async fn link_up(addr: SocketAddr) -> bool {
    admin::replication(addr, ADMIN_TIMEOUT)
        .await
        .is_ok_and(|r| r.link_up())
}

/// Writes `k` = `v1` on the master at `master` and waits (3 s at most) until the replica at
/// `replica` serves it: replication works between the addresses clients use.
pub async fn write_is_read_back(master: SocketAddr, replica: SocketAddr) {
    let set = redis::cmd("SET").arg("k").arg("v1").clone();
    let _: String = admin::command(master, &set, ADMIN_TIMEOUT)
        .await
        .expect("the master takes the write");
    let get = redis::cmd("GET").arg("k").clone();
    let served = || {
        let get = get.clone();
        async move {
            let read = admin::command::<Option<String>>(replica, &get, Duration::from_millis(500));
            read.await.ok().flatten().as_deref() == Some("v1")
        }
    };
    eventually(
        Duration::from_secs(3),
        "the replica to serve the write",
        served,
    )
    .await;
}

/// Pids of live (not zombie) processes whose working directory lies under `dir`.
pub fn live_servers_under(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        let in_dir =
            std::fs::read_link(entry.path().join("cwd")).is_ok_and(|c| c.starts_with(&dir));
        if in_dir && !zombie {
            pids.push(pid);
        }
    }
    pids
}
