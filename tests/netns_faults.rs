//! The netns backend end to end (as root; skipped with a printed reason otherwise): a write on
//! the master is read back from a replica over the bridge; a replication cut takes a replica's
//! link down and healing brings it back; isolating the master blocks clients but not the
//! harness; kill/start and pause/resume act on the real server pid inside its namespace; the
//! backend has no link delay and says why (no netem); teardown leaves no namespace, veth, bridge, table or
//! process.

mod netns_support;

use netns_support::{
    cluster, eventually, leftovers, link_up, namespace_of, settle, tables_in, write_is_read_back,
};
use redline::cluster::admin;
use redline::cluster::backend::Backend as _;
use redline::cluster::capabilities::{Capability, Kill, Pause};
use redline::cluster::netns::{NetnsCluster, NO_NETEM};
use redline::cluster::process::ProcessState;
use redline::nemesis::grudge::{self, Layout};
use redline::nemesis::spec::Grudge;
use std::net::SocketAddr;
use std::time::Duration;

const SHORT: Duration = Duration::from_millis(700);

async fn ping(addr: SocketAddr) -> bool {
    admin::command::<String>(addr, &redis::cmd("PING"), SHORT)
        .await
        .is_ok()
}

/// Cuts `links` through the backend's partitions (netns has them).
async fn cut_links(c: &mut NetnsCluster, links: &[(String, String)]) {
    let partition = c.partition().expect("netns cuts links");
    partition.cut(links).await.unwrap();
}

async fn heal(c: &mut NetnsCluster) {
    c.partition()
        .expect("netns cuts links")
        .heal()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_the_master_is_read_back_from_a_replica() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let c = cluster(dir.path()).await;
    let subnet = c.subnet().to_string();
    let prefix = subnet.trim_end_matches("0/24");
    for node in c.node_names() {
        let addr = c.client_addr(&node).unwrap();
        assert!(
            addr.ip().to_string().starts_with(prefix),
            "{node} at {addr}, subnet {subnet}"
        );
        assert_eq!(
            namespace_of(c.pid(&node).unwrap()),
            c.tag().namespace(&node)
        );
    }
    // Clients reach the master directly at its data address: no proxy in between.
    write_is_read_back(c.client_addr("n1").unwrap(), c.client_addr("n2").unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replication_cut_takes_the_link_down_and_heal_brings_it_back() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path()).await;
    let cut = grudge::cut(Grudge::ReplicationCut, &Layout::of(&c), 0);
    cut_links(&mut c, &cut.links).await;
    let n2_ns = c.tag().namespace("n2");
    assert!(
        tables_in(&n2_ns).contains(&c.tag().table()),
        "table in {n2_ns}"
    );
    let n2 = c.admin_addr("n2").unwrap();
    let down = eventually(
        Duration::from_secs(6),
        "n2's link to go down",
        || async move { !link_up(n2).await },
    )
    .await;
    // The harness's admin address was answering all along; clients still reach the master.
    assert!(
        ping(c.client_addr("n1").unwrap()).await,
        "clients are not cut"
    );
    heal(&mut c).await;
    assert!(
        !tables_in(&n2_ns).contains(&c.tag().table()),
        "heal removes the table"
    );
    let up = eventually(
        Duration::from_secs(6),
        "n2's link to come back",
        || async move { link_up(n2).await },
    )
    .await;
    eprintln!("link down after {down:?}, back up {up:?} after heal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolating_the_master_blocks_clients_but_not_the_harness() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path()).await;
    let cut = grudge::cut(Grudge::IsolateMaster, &Layout::of(&c), 0);
    cut_links(&mut c, &cut.links).await;
    let master = c.client_addr("n1").unwrap();
    assert!(
        !ping(master).await,
        "clients must not reach the isolated master"
    );
    assert!(
        ping(c.admin_addr("n1").unwrap()).await,
        "the admin address is never cut"
    );
    assert!(
        ping(c.client_addr("n2").unwrap()).await,
        "replicas stay reachable"
    );
    heal(&mut c).await;
    eventually(
        Duration::from_secs(3),
        "clients to reach n1 again",
        || async move { ping(master).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_start_pause_and_resume_act_on_the_server_in_its_namespace() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path()).await;
    let n2 = c.client_addr("n2").unwrap();
    let old_pid = c.pid("n2").unwrap();
    c.kill("n2").await.unwrap();
    assert_eq!(c.state("n2"), Some(ProcessState::Dead));
    assert!(
        !std::path::Path::new(&format!("/proc/{old_pid}")).exists(),
        "killed and reaped"
    );
    assert!(!ping(n2).await);
    c.start("n2").await.unwrap();
    let pid = c.pid("n2").unwrap();
    assert_ne!(pid, old_pid);
    assert_eq!(namespace_of(pid), c.tag().namespace("n2"));
    assert!(ping(n2).await);

    c.pause("n2").await.unwrap();
    assert_eq!(c.state("n2"), Some(ProcessState::Paused));
    assert!(!ping(n2).await, "a paused server answers nothing");
    c.resume("n2").await.unwrap();
    assert!(ping(n2).await);
    let n2_admin = c.admin_addr("n2").unwrap();
    eventually(
        Duration::from_secs(6),
        "n2 to replicate again",
        || async move { link_up(n2_admin).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_is_not_offered_because_there_is_no_netem() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path()).await;
    assert!(c.link_delay().is_none(), "no delay without netem");
    let refusal = c.capabilities().refusal(Capability::LinkDelay);
    assert_eq!(refusal, Some(NO_NETEM));
    assert!(c.partition().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_leaves_no_namespace_link_table_or_process() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path()).await;
    let tag = c.tag().to_string();
    // With rules installed and a paused node, the hardest state to clean.
    let cut = grudge::cut(Grudge::IsolateMaster, &Layout::of(&c), 0);
    cut_links(&mut c, &cut.links).await;
    c.pause("n3").await.unwrap();
    assert!(
        !leftovers(&tag, dir.path()).is_empty(),
        "the run exists before teardown"
    );
    assert!(dir.path().join("netns.json").exists());
    let failures = c.teardown();
    assert!(failures.is_empty(), "{failures:?}");
    let left = settle(&tag, dir.path());
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(!dir.path().join("netns.json").exists());
    assert!(c.teardown().is_empty(), "teardown is idempotent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heal_all_and_converge_bring_every_fault_back() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path()).await;
    let cut = grudge::cut(Grudge::IsolateReplica, &Layout::of(&c), 0);
    cut_links(&mut c, &cut.links).await;
    c.kill("n3").await.unwrap();
    c.pause("n2").await.unwrap();
    let done = c.heal_all().await.unwrap();
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(c.cut_links().is_empty());
    let convergence = redline::cluster::convergence::converge(&mut c, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(convergence.converged, "{convergence:?}");
    assert_eq!(convergence.master, "n1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_in_namespaces_fail_over_when_the_master_dies() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let begin = std::time::Instant::now();
    let mut c = netns_support::cluster_with_sentinels(dir.path(), 3).await;
    eprintln!("cluster with Sentinels up after {:?}", begin.elapsed());
    let topology = c.topology();
    assert!(topology.uses_sentinel());
    c.kill("n1").await.unwrap();
    let sentinel = c.sentinel_addrs()[0].1;
    let new_master = eventually(
        Duration::from_secs(15),
        "a Sentinel failover",
        || async move {
            let cmd = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg("redline")
                .clone();
            admin::command::<Option<(String, u16)>>(sentinel, &cmd, SHORT)
                .await
                .ok()
                .flatten()
                .is_some_and(|(host, _)| !host.ends_with(".11"))
        },
    )
    .await;
    eprintln!("failover seen after {new_master:?}");
    c.heal_all().await.unwrap();
    let begin = std::time::Instant::now();
    let convergence = redline::cluster::convergence::converge(&mut c, Duration::from_secs(15))
        .await
        .unwrap();
    eprintln!("converged after {:?}", begin.elapsed());
    assert!(convergence.converged, "{convergence:?}");
    assert_ne!(convergence.master, "n1");
}
