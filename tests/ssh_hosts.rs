//! The SSH backend against hosts the test builds itself (network namespaces running sshd; see
//! `ssh_support`): a cluster comes up over SSH with its servers inside the hosts' namespaces;
//! a partition is an nftables rule on the hosts that stops replication while the harness's own
//! commands (through the SSH forward) still work; kill and pause act on the real remote pid;
//! the backend has no link delay, and says why; teardown pulls the logs and leaves no server,
//! table or folder on a host.

mod cluster_support;
mod ssh_support;

use cluster_support::{eventually, link_up, write_is_read_back};
use redline::cluster::admin::{self, ADMIN_TIMEOUT};
use redline::cluster::backend::Backend as _;
use redline::cluster::capabilities::{Capability, Kill, Pause};
use redline::cluster::process::ProcessState;
use redline::cluster::ssh::{
    cleanup_recorded, HostLayout, SshCluster, SshLogin, SshOptions, NO_DELAY, SSH_FILE,
};
use ssh_support::SshHosts;
use std::path::PathBuf;
use std::time::Duration;

async fn cluster(hosts: &SshHosts, run_dir: &std::path::Path) -> SshCluster {
    let server = redline::provision::locate_server(None, false).expect("redis-server");
    cluster_on(hosts, run_dir, server.path).await
}

/// A cluster on `hosts` running `server_bin` there.
async fn cluster_on(
    hosts: &SshHosts,
    run_dir: &std::path::Path,
    server_bin: PathBuf,
) -> SshCluster {
    SshCluster::start(
        cluster_support::spec_with(run_dir, 0, server_bin),
        SshOptions {
            layout: HostLayout::parse(&hosts.nodes_arg(&["n1", "n2", "n3"])).unwrap(),
            login: SshLogin {
                user: "root".into(),
                key: Some(hosts.key.clone()),
                known_hosts: Some(hosts.known_hosts.clone()),
            },
            remote_dir: hosts.remote_dir.display().to_string(),
            partitions: true,
        },
    )
    .await
    .expect("the SSH cluster starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_act_on_the_hosts_and_teardown_leaves_nothing() {
    skip_unless_ssh_hosts!();
    let hosts = SshHosts::create(3);
    let run = tempfile::tempdir().unwrap();
    let mut c = cluster(&hosts, run.path()).await;

    // The servers run inside the hosts' namespaces, and clients reach them at the hosts'
    // addresses: a write on n1 is read back from n2.
    let servers = hosts.servers();
    assert_eq!(servers.len(), 3, "{servers:?}");
    let n1 = c.client_addr("n1").unwrap();
    assert_eq!(n1.ip(), std::net::IpAddr::V4(hosts.hosts[0].addr));
    write_is_read_back(n1, c.client_addr("n2").unwrap()).await;

    partitions_spare_the_harness(&mut c, &hosts).await;
    kill_and_pause_act_on_the_remote_pid(&mut c).await;
    // No link delay here, and the capabilities asked before a run say the same, with why.
    assert!(c.link_delay().is_none());
    let refusal = c.capabilities().refusal(Capability::LinkDelay);
    assert_eq!(refusal, Some(NO_DELAY));

    // Teardown pulls the logs back and leaves nothing on the hosts.
    c.teardown();
    let log = run.path().join("nodes").join("n1").join("redis.log");
    assert!(
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Ready to accept")),
        "{} pulled back",
        log.display()
    );
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
    assert!(!run.path().join("ssh.json").exists());
}

/// Cutting n1 from n2 (both ways) is an nftables table on both hosts; n2's replication link
/// goes down while the harness still reaches n2 through its SSH forward. Healing lifts it all.
async fn partitions_spare_the_harness(c: &mut SshCluster, hosts: &SshHosts) {
    c.partition()
        .expect("SSH hosts cut links")
        .cut(&[("n1".into(), "n2".into()), ("n2".into(), "n1".into())])
        .await
        .unwrap();
    let tables = hosts.tables();
    assert_eq!(
        tables.iter().filter(|t| t.contains("redline_")).count(),
        2,
        "{tables:?}"
    );
    let n2_admin = c.admin_addr("n2").unwrap();
    eventually(
        Duration::from_secs(8),
        "n2's link to go down",
        || async move { !link_up(n2_admin).await },
    )
    .await;
    // Cutting clients from n3 blocks the data address from here, not the admin forward.
    c.partition()
        .expect("SSH hosts cut links")
        .cut(&[("clients".into(), "n3".into())])
        .await
        .unwrap();
    let n3 = c.client_addr("n3").unwrap();
    let ping = redis::cmd("PING");
    assert!(
        admin::command::<String>(n3, &ping, Duration::from_millis(700))
            .await
            .is_err()
    );
    let n3_admin = c.admin_addr("n3").unwrap();
    assert!(admin::command::<String>(n3_admin, &ping, ADMIN_TIMEOUT)
        .await
        .is_ok());
    let healed = c.heal_all().await.unwrap();
    assert!(healed.iter().any(|h| h.contains("partition")), "{healed:?}");
    assert!(
        !hosts.tables().iter().any(|t| t.contains("redline_")),
        "heal removes every table"
    );
    eventually(
        Duration::from_secs(10),
        "n2's link to come back",
        || async move { link_up(n2_admin).await },
    )
    .await;
}

/// Kill and pause act on the remote pid.
async fn kill_and_pause_act_on_the_remote_pid(c: &mut SshCluster) {
    let pid = c.pid("n3").unwrap();
    c.pause("n3").await.unwrap();
    // The stop is delivered asynchronously: poll the kernel's view of the process briefly.
    eventually(
        Duration::from_secs(2),
        "n3's server to be stopped",
        || async move {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") T "))
        },
    )
    .await;
    c.resume("n3").await.unwrap();
    c.kill("n3").await.unwrap();
    assert_eq!(c.state("n3"), Some(ProcessState::Dead));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z ")
        }
    );
    c.start("n3").await.unwrap();
    assert_eq!(c.state("n3"), Some(ProcessState::Running));
    assert_ne!(c.pid("n3"), Some(pid));
}

/// A `--server-bin` wrapper that runs the server without `exec` (issue #17): the server is
/// found in the wrapper's process group, and kill, pause and teardown reach it on the hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_server_is_signalled_with_its_wrapper() {
    skip_unless_ssh_hosts!();
    let hosts = SshHosts::create(3);
    let run = tempfile::tempdir().unwrap();
    let real = redline::provision::locate_server(None, false).expect("redis-server");
    let bin = run.path().join("wrapped-redis-server");
    let script = format!(
        "#!/bin/sh\n'{}' \"$@\"\necho wrapper done\n",
        real.path.display()
    );
    std::fs::write(&bin, script).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = cluster_on(&hosts, run.path(), bin).await;
    assert_eq!(hosts.redis_servers().len(), 3, "{:?}", hosts.servers());
    c.pause("n2").await.unwrap();
    let stopped = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") T "))
    };
    let servers = hosts.redis_servers();
    eventually(Duration::from_secs(2), "n2's server to be stopped", || {
        let servers = servers.clone();
        async move { servers.iter().filter(|(_, pid)| stopped(*pid)).count() == 1 }
    })
    .await;
    c.resume("n2").await.unwrap();
    c.kill("n2").await.unwrap();
    eventually(Duration::from_secs(3), "n2's server to be gone", || {
        let left = hosts.redis_servers().len();
        async move { left == 2 }
    })
    .await;
    c.start("n2").await.unwrap();
    assert_eq!(hosts.redis_servers().len(), 3);
    c.teardown();
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_removes_what_a_crashed_run_left_on_the_hosts() {
    skip_unless_ssh_hosts!();
    let hosts = SshHosts::create(3);
    let run = tempfile::tempdir().unwrap();
    let mut c = cluster(&hosts, run.path()).await;
    c.partition()
        .expect("SSH hosts cut links")
        .cut(&[("n1".into(), "n2".into())])
        .await
        .unwrap();
    let old_pids: Vec<u32> = c.node_names().iter().filter_map(|n| c.pid(n)).collect();
    // A crash: the harness never tears down (its sessions and control masters leak too).
    std::mem::forget(c);
    assert!(!hosts.leftovers().is_empty());

    // The next run heals on setup: the old servers and table are gone before it starts its own.
    let run2 = tempfile::tempdir().unwrap();
    let mut c2 = cluster(&hosts, run2.path()).await;
    for pid in &old_pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "old server {pid} survived"
        );
    }
    assert!(!hosts.tables().iter().any(|t| t.contains("redline_")));
    assert_eq!(hosts.redis_servers().len(), 3);
    // `redline cleanup` then ends the crashed run's SSH control masters and drops its record,
    // touching nothing of the live run.
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.path().join(SSH_FILE)).unwrap()).unwrap();
    let control_dir = std::path::PathBuf::from(record["control_dir"].as_str().unwrap());
    let done = cleanup_recorded(run.path()).await.unwrap();
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    assert!(!control_dir.exists() && !run.path().join(SSH_FILE).exists());
    assert_eq!(
        hosts.redis_servers().len(),
        3,
        "the live run's servers are untouched"
    );
    c2.teardown();
    assert_eq!(hosts.leftovers(), Vec::<String>::new());
}
