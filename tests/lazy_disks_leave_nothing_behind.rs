//! Nothing a run mounts outlives it, on any exit path: a run that ends, a run interrupted by
//! SIGINT or SIGTERM, a run whose servers refuse to start, a cluster dropped by a panic, and a
//! harness killed by SIGKILL (its `fusermount3` helpers unmount by themselves, nearly always;
//! what they leave, or leave when they die too, `redline cleanup` unmounts). `grep fuse
//! /proc/mounts` finds nothing of the run afterwards.

mod lazy_disk_support;
mod support;

use lazy_disk_support::{
    describe_processes, fuse_holders, fuse_mounts_under, fusermount_helpers_of,
};
use std::time::{Duration, Instant};
use support::{assert_exit, run_test, servers_under, spawn_test, wait_for_history, Store};

/// A power-loss run of 30 s in the background (it is interrupted long before).
fn start_run(store: &Store) -> std::process::Child {
    spawn_test(
        store,
        &[
            "--workload",
            "set",
            "--nemesis",
            "power-loss:master",
            "--time-limit",
            "30",
            "--nemesis-interval",
            "1",
            "--replicas",
            "1",
            "--redis-option",
            "appendonly=yes",
        ],
    )
}

/// Waits until the run has its disks mounted and its clients going.
fn wait_until_running(store: &Store) {
    wait_for_history(store);
    assert_eq!(
        fuse_mounts_under(store.path()).len(),
        2,
        "one disk per node"
    );
}

fn wait_for_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "redline did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (briefly: unmounting is asynchronous for a helper) until nothing of the store is
/// mounted, and says what is left if something is.
fn assert_unmounted(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !fuse_mounts_under(store.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = fuse_mounts_under(store.path());
    assert!(left.is_empty(), "mounts left: {left:?}; {}", fuse_holders());
}

fn interrupt(signal: libc::c_int) {
    let store = Store::new();
    let mut child = start_run(&store);
    wait_until_running(&store);
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let status = wait_for_exit(&mut child);
    assert_eq!(status.code(), Some(2), "an interrupted run cannot decide");
    assert!(servers_under(store.path()).is_empty(), "servers left");
    assert_unmounted(&store);
}

#[test]
fn sigint_unmounts_the_disks() {
    skip_unless_lazy_disk!();
    interrupt(libc::SIGINT);
}

#[test]
fn sigterm_unmounts_the_disks() {
    skip_unless_lazy_disk!();
    interrupt(libc::SIGTERM);
}

/// SIGKILL: the harness's FUSE connection closes with it and the `fusermount3` helper it
/// left normally unmounts; the servers (on a dead mount now) wait for `redline cleanup`, which
/// leaves neither servers nor mounts. "Normally": the helper first opens the mount to see
/// whether it is dead, and when that open is still pending as the kernel aborts the connection
/// it fails with ECONNABORTED, which `fusermount3` takes for a live mount and leaves alone; a
/// few kills in a hundred hit that, and then `redline cleanup` unmounts it.
#[test]
fn a_killed_harness_leaves_no_mount() {
    skip_unless_lazy_disk!();
    let store = Store::new();
    let mut child = start_run(&store);
    wait_until_running(&store);
    child.kill().unwrap();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !fuse_mounts_under(store.path()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !servers_under(store.path()).is_empty(),
        "its servers run on, their working folder detached with the mount"
    );
    let out = support::cleanup(&store);
    assert_exit(&out, 0);
    assert_unmounted(&store);
    let left = servers_under(store.path());
    assert!(
        left.is_empty(),
        "cleanup stopped them; left: {}; cleanup said: {}",
        describe_processes(&left),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// SIGKILL of the harness and of its helpers: the mounts stay (dead: ENOTCONN) until
/// `redline cleanup`, which reads them from the run's pid file and unmounts them.
#[test]
fn cleanup_unmounts_what_a_killed_harness_and_its_helpers_left() {
    skip_unless_lazy_disk!();
    let store = Store::new();
    let mut child = start_run(&store);
    wait_until_running(&store);
    let helpers = fusermount_helpers_of(child.id());
    assert_eq!(helpers.len(), 2, "one auto-unmount helper per disk");
    for pid in &helpers {
        // SAFETY: signalling the helpers our child started.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    child.kill().unwrap();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        fuse_mounts_under(store.path()).len(),
        2,
        "with no helper left, the dead mounts stay"
    );
    let out = support::cleanup(&store);
    assert_exit(&out, 0);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("unmounted"), "{printed}");
    assert!(servers_under(store.path()).is_empty());
    assert_unmounted(&store);
}

/// A run whose servers refuse their config fails to start (exit 2); the disks it mounted for
/// them are gone with it.
#[test]
fn a_run_that_cannot_start_unmounts_its_disks() {
    skip_unless_lazy_disk!();
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--nemesis",
            "power-loss",
            "--time-limit",
            "2",
            "--redis-option",
            "no-such-directive=1",
        ],
    );
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-directive"));
    assert!(servers_under(store.path()).is_empty());
    assert_unmounted(&store);
}

/// A panic unwinds through the cluster guard, whose teardown stops the servers and unmounts.
#[test]
fn a_panic_unmounts_the_disks() {
    skip_unless_lazy_disk!();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = cluster_spec(dir.path());
    spec.lazy_disk = Some(redline_lazyfs::Options::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            let _cluster = redline::cluster::LocalCluster::start(spec)
                .await
                .expect("starts");
            assert_eq!(fuse_mounts_under(dir.path()).len(), 2);
            panic!("a bug in the middle of a run");
        })
    }));
    assert!(panicked.is_err());
    assert!(fuse_mounts_under(dir.path()).is_empty());
    assert!(servers_under(dir.path()).is_empty());
}

fn cluster_spec(run_dir: &std::path::Path) -> redline::cluster::ClusterSpec {
    redline::cluster::ClusterSpec {
        replicas: 1,
        sentinels: 0,
        server_bin: redline::provision::locate_server(None, false)
            .expect("redis-server")
            .path,
        redis_options: vec![("save".into(), String::new())],
        redis_conf: None,
        run_dir: run_dir.to_path_buf(),
        sentinel_down_after_ms: 1000,
        sentinel_failover_timeout_ms: 3000,
        sharding: None,
        link_faults: true,
        lazy_disk: None,
    }
}
