//! A `--server-bin` wrapper script that does not `exec` the server (issue #17): the server is
//! then a child of the process redline started. Every signal goes to the whole process group
//! redline creates, so kill, pause and teardown reach the server itself and no orphan is left,
//! on the local backend and in network namespaces.

mod netns_support;

use netns_support::{eventually, live_servers_under, spec_with};
use redline::cluster::admin;
use redline::cluster::backend::Backend;
use redline::cluster::capabilities::{Kill, Pause};
use redline::cluster::LocalCluster;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A wrapper that runs the real server as its child (no `exec`), as a user's script might.
fn wrapper(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let real = redline::provision::locate_server(None, false).expect("redis-server");
    let path = dir.join("wrapped-redis-server");
    let script = format!(
        "#!/bin/sh\n'{}' \"$@\"\necho wrapper done\n",
        real.path.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn answers(addr: SocketAddr) -> bool {
    admin::command::<String>(addr, &redis::cmd("PING"), Duration::from_millis(300))
        .await
        .is_ok()
}

/// The state letter of every live process working under `dir` (`S`, `T`, ...).
fn states_under(dir: &Path) -> Vec<String> {
    live_servers_under(dir)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|s| Some(s.rsplit(')').next()?.split_whitespace().next()?.to_string()))
        .collect()
}

/// Kills n2 and checks that its server itself is gone, not only the wrapper.
async fn kill_reaches_the_server<B: Backend>(c: &mut B, run: &Path) {
    let n2 = c.admin_addr("n2").unwrap();
    let n2_dir = run.join("nodes").join("n2");
    c.kill("n2").await.unwrap();
    eventually(Duration::from_secs(3), "n2's server to be gone", || {
        let dir = n2_dir.clone();
        async move { live_servers_under(&dir).is_empty() }
    })
    .await;
    assert!(!answers(n2).await, "the killed server answers nothing");
}

/// Drops the cluster and checks that no process of the run is left.
async fn nothing_left_after<B>(cluster: B, run: &Path) {
    drop(cluster);
    eventually(Duration::from_secs(3), "every server to be gone", || {
        let run = run.to_path_buf();
        async move { live_servers_under(&run).is_empty() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_kill_pause_and_teardown_reach_a_wrapped_server() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = wrapper(tmp.path());
    let run = tmp.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let mut c = LocalCluster::start(spec_with(&run, 0, bin))
        .await
        .expect("a cluster starts through a wrapper that does not exec");
    let n2 = c.admin_addr("n2").unwrap();
    assert!(answers(n2).await);

    c.pause("n2").await.unwrap();
    // SIGSTOP to the group is delivered asynchronously: a busy machine may show a process
    // still running for a moment after the signal was sent.
    let n2_dir = run.join("nodes").join("n2");
    eventually(
        Duration::from_secs(3),
        "the wrapper and its server both stopped",
        || {
            let dir = n2_dir.clone();
            async move {
                let states = states_under(&dir);
                states.len() == 2 && states.iter().all(|s| s == "T")
            }
        },
    )
    .await;
    assert!(!answers(n2).await, "a paused server answers nothing");
    c.resume("n2").await.unwrap();
    assert!(answers(n2).await);

    kill_reaches_the_server(&mut c, &run).await;
    c.start("n2").await.unwrap();
    assert!(answers(n2).await);
    nothing_left_after(c, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netns_kill_and_teardown_reach_a_wrapped_server() {
    skip_unless_netns!();
    let tmp = tempfile::tempdir().unwrap();
    let bin = wrapper(tmp.path());
    let run = tmp.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let mut c = redline::cluster::netns::NetnsCluster::start(spec_with(&run, 0, bin))
        .await
        .expect("a netns cluster starts through a wrapper that does not exec");
    assert!(answers(c.admin_addr("n2").unwrap()).await);
    kill_reaches_the_server(&mut c, &run).await;
    nothing_left_after(c, &run).await;
}
