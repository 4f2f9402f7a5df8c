//! A netns run whose harness never tore down (simulated with `std::mem::forget`, as after a
//! SIGKILL) is removed entirely by `cleanup_netns(tag)` or by `cleanup_recorded(store)`: no
//! namespace, veth, bridge, nftables table or server process is left, and nothing of another
//! run is touched.

mod netns_support;

use netns_support::{cluster, leftovers, settle};
use redline::cluster::backend::Backend as _;
use redline::cluster::netns::{cleanup_netns, cleanup_recorded, NETNS_FILE};
use std::path::Path;

/// Whatever happens in the test, nothing of `tag` survives it.
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        let _ = cleanup_netns(&self.0);
    }
}

/// Reaps the forgotten children (their `Child` handles were leaked with the cluster).
fn reap(pids: &[u32]) {
    for pid in pids {
        // SAFETY: waiting on our own child; WNOHANG-free wait is fine, it was SIGKILLed.
        unsafe {
            libc::waitpid(*pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
}

/// Starts a cluster with partition rules installed, then forgets it; returns its tag and pids.
async fn crashed_run(dir: &Path) -> (String, Vec<u32>) {
    let mut c = cluster(dir).await;
    c.partition()
        .expect("netns cuts links")
        .cut(&[("n1".into(), "n2".into()), ("clients".into(), "n3".into())])
        .await
        .unwrap();
    let tag = c.tag().to_string();
    let pids: Vec<u32> = c.node_names().iter().filter_map(|n| c.pid(n)).collect();
    std::mem::forget(c);
    (tag, pids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_by_tag_removes_everything_a_crashed_run_left() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let (tag, pids) = crashed_run(dir.path()).await;
    let _sweep = Sweep(tag.clone());
    let before = leftovers(&tag, dir.path());
    assert!(
        before.iter().any(|l| l.starts_with("namespace")),
        "{before:#?}"
    );
    assert!(
        before.iter().any(|l| l.starts_with("process")),
        "{before:#?}"
    );

    // Another run's tag removes nothing of this one.
    let other = cleanup_netns("rl-ffffff").unwrap();
    assert!(
        other.removed.is_empty() && other.killed.is_empty(),
        "{other:?}"
    );
    assert_eq!(leftovers(&tag, dir.path()).len(), before.len());

    let report = cleanup_netns(&tag).unwrap();
    reap(&pids);
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.killed.len(), 3, "{report:?}");
    assert!(
        report
            .removed
            .iter()
            .any(|r| r.starts_with("table inet redline_")),
        "{report:?}"
    );
    let left = settle(&tag, dir.path());
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_from_the_store_finds_runs_through_their_netns_record() {
    skip_unless_netns!();
    let store = tempfile::tempdir().unwrap();
    let run = store.path().join("test").join("20260101T000000");
    let (tag, pids) = crashed_run(&run).await;
    let _sweep = Sweep(tag.clone());
    assert!(run.join(NETNS_FILE).exists());
    let report = cleanup_recorded(store.path()).unwrap();
    reap(&pids);
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(
        !run.join(NETNS_FILE).exists(),
        "the record goes with the network"
    );
    let left = settle(&tag, &run);
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[test]
fn cleanup_refuses_prefixes_that_are_not_redlines() {
    assert!(cleanup_netns("").is_err());
    assert!(cleanup_netns("docker").is_err());
    assert!(cleanup_netns("veth").is_err());
}
