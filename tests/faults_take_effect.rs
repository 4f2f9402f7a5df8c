//! Every fault provably takes effect and is healed, on a real local cluster: a cut replication
//! link turns the replica's link down and back up; a paused node stops answering and answers
//! again; a delayed replica link delays replication by at least the delay; a promotion changes
//! roles and clients write to the new master; with three Sentinels, killing the master produces
//! a `+switch-master` and clients follow it.

mod cluster_support;

use cluster_support::{eventually, link_up};
use redline::cluster::admin::{self, ADMIN_TIMEOUT};
use redline::cluster::backend::Backend as _;
use redline::cluster::capabilities::{Kill, Pause};
use redline::cluster::links::Delay;
use redline::cluster::LocalCluster;
use redline::recorder::Recorder;
use redline_checkers::{Op, OpType, Process};
use redline_workloads::{Client, WorkloadConfig};
use std::time::{Duration, Instant};

async fn cluster(dir: &std::path::Path, sentinels: usize) -> LocalCluster {
    LocalCluster::start(cluster_support::spec(dir, sentinels))
        .await
        .expect("cluster starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_cut_takes_the_link_down_and_heal_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path(), 0).await;
    let n2 = c.admin_addr("n2").unwrap();
    assert!(link_up(n2).await);
    let partition = c.partition().expect("the local backend cuts links");
    partition
        .cut(&[("n1".into(), "n2".into()), ("n2".into(), "n1".into())])
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "n2's link going down", || async {
        !link_up(n2).await
    })
    .await;
    c.partition().unwrap().heal().await.unwrap();
    eventually(Duration::from_secs(15), "n2's link coming back", || async {
        link_up(n2).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_stops_answering_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path(), 0).await;
    let n3 = c.admin_addr("n3").unwrap();
    let ping = |addr| async move {
        admin::command::<String>(addr, &redis::cmd("PING"), Duration::from_millis(300))
            .await
            .is_ok()
    };
    assert!(ping(n3).await);
    c.pause("n3").await.unwrap();
    assert!(!ping(n3).await, "a paused node answers nothing");
    c.resume("n3").await.unwrap();
    eventually(Duration::from_secs(3), "n3 answering after resume", || {
        ping(n3)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_replica_link_delays_replication_by_at_least_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path(), 0).await;
    let (n1, n2) = (c.admin_addr("n1").unwrap(), c.admin_addr("n2").unwrap());
    let visible_after = |value: &'static str| async move {
        let set = redis::cmd("SET").arg("probe").arg(value).clone();
        let _: String = admin::command(n1, &set, ADMIN_TIMEOUT).await.unwrap();
        let get = redis::cmd("GET").arg("probe").clone();
        eventually(Duration::from_secs(5), "replication of the probe", || {
            let get = get.clone();
            async move {
                admin::command::<Option<String>>(n2, &get, ADMIN_TIMEOUT)
                    .await
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(value)
            }
        })
        .await
    };
    visible_after("warm-up").await; // the first write after a fresh sync can be slow
    let before = visible_after("a").await;
    let delay = Delay {
        base: Duration::from_millis(300),
        jitter: Duration::ZERO,
    };
    let links = c.link_delay().expect("the local backend delays links");
    links
        .delay(
            &[("n1".into(), "n2".into()), ("n2".into(), "n1".into())],
            delay,
        )
        .await
        .unwrap();
    let during = visible_after("b").await;
    c.link_delay().unwrap().undelay().await.unwrap();
    assert!(
        during >= Duration::from_millis(300),
        "replication took {during:?} under a 300 ms delay"
    );
    assert!(during < Duration::from_millis(3000), "{during:?}");
    assert!(
        before < Duration::from_millis(300),
        "{before:?} without delay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_changes_roles_and_clients_write_to_the_new_master() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path(), 0).await;
    redline::nemesis::promote::promote(&mut c, "n2")
        .await
        .unwrap();
    let n2 = admin::replication(c.admin_addr("n2").unwrap(), ADMIN_TIMEOUT)
        .await
        .unwrap();
    assert!(n2.is_master());
    let n1_addr = c.admin_addr("n1").unwrap();
    eventually(
        Duration::from_secs(10),
        "n1 replicating from n2",
        || async move {
            admin::replication(n1_addr, ADMIN_TIMEOUT)
                .await
                .is_ok_and(|r| !r.is_master() && r.link_up())
        },
    )
    .await;
    let cfg = WorkloadConfig::for_kind(redline_checkers::WorkloadKind::Set);
    let mut client = Client::new(&cfg, c.topology(), 0);
    let mut add = Op::new(0, 0, Process::Client(0), OpType::Invoke, "add");
    add.key = Some("set".into());
    add.value = serde_json::json!(1);
    let done = client.invoke(&add).await;
    assert_eq!(done.op_type, OpType::Ok, "{done:?}");
    assert_eq!(done.node.as_deref(), Some("n2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_fail_over_a_killed_master_and_clients_follow() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster(dir.path(), 3).await;
    let recorder =
        Recorder::create(&dir.path().join("history.jsonl"), std::time::Instant::now()).unwrap();
    let _events = redline::cluster::sentinel_events::follow(
        c.sentinel_addrs(),
        recorder.clone(),
        c.topology(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // subscriptions in place
    let killed_at = Instant::now();
    c.kill("n1").await.unwrap();
    let topology = c.topology();
    let took = eventually(Duration::from_secs(30), "+switch-master", || {
        let t = topology.clone();
        async move { t.master().is_some_and(|m| m.node != "n1") }
    })
    .await;
    eprintln!("failover after killing the master: {took:?}");
    let history = std::fs::read_to_string(dir.path().join("history.jsonl")).unwrap();
    assert!(
        history.contains("+switch-master"),
        "the event is in the history"
    );
    let new_master = c.topology().master().unwrap().node;
    let cfg = WorkloadConfig::for_kind(redline_checkers::WorkloadKind::Set);
    let mut client = Client::new(&cfg, c.topology(), 0);
    let mut add = Op::new(0, 0, Process::Client(0), OpType::Invoke, "add");
    add.key = Some("set".into());
    add.value = serde_json::json!(7);
    let done = client.invoke(&add).await;
    assert_eq!(done.op_type, OpType::Ok, "{done:?}");
    assert_eq!(
        done.node.as_deref(),
        Some(new_master.as_str()),
        "the client found the new master through Sentinel"
    );
    assert!(killed_at.elapsed() < Duration::from_secs(40));
}
