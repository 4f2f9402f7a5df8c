//! `--topology cluster`'s cluster, formed by redline on this machine: three shards of a
//! primary and a replica, every slot served, every link (client and cluster bus) through
//! redline's proxies, and nothing left once it is dropped. A cut between a primary and the
//! rest of the cluster makes its shard fail over, through the bus proxies.

mod cluster_support;

use cluster_support::{eventually, live_servers_under, spec};
use redline::cluster::backend::Backend;
use redline::cluster::sharded::view::ClusterView;
use redline::cluster::sharded::Sharding;
use redline::cluster::LocalCluster;
use std::net::SocketAddr;
use std::time::Duration;

fn cluster_spec(dir: &std::path::Path) -> redline::cluster::ClusterSpec {
    let mut spec = spec(dir, 0);
    spec.replicas = 1;
    spec.sharding = Some(Sharding {
        shards: 3,
        replicas: 1,
        node_timeout_ms: 1000,
    });
    spec
}

async fn view(c: &LocalCluster) -> ClusterView {
    let nodes: Vec<(String, SocketAddr)> = c
        .node_names()
        .into_iter()
        .map(|n| (n.clone(), c.admin_addr(&n).unwrap()))
        .collect();
    let ids = c.sharded().unwrap().ids.clone();
    ClusterView::fetch(&nodes, &ids, Duration::from_secs(2)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_form_serve_every_slot_and_fail_over_through_the_bus_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = LocalCluster::start(cluster_spec(dir.path())).await.unwrap();
    let v = view(&cluster).await;
    let claims = v.claims();
    assert_eq!(claims.len(), 3, "{claims:?}");
    assert_eq!(claims[0].node, "n1");
    assert_eq!(claims[0].slots, vec![(0, 5460)]);
    assert_eq!(v.following("n4").as_deref(), Some("n3"));
    assert!(claims.iter().all(|c| c.serving));

    // n3 cut from every other node (its clients still reach it): n4 takes its slots.
    let others: Vec<String> = ["n1", "n2", "n4", "n5", "n6"].map(String::from).to_vec();
    let mut links = Vec::new();
    for o in &others {
        links.push(("n3".to_string(), o.clone()));
        links.push((o.clone(), "n3".to_string()));
    }
    cluster.partition().unwrap().cut(&links).await.unwrap();
    let took = eventually(
        Duration::from_secs(15),
        "n4 to take over shard 2",
        || async { view(&cluster).await.claims().iter().any(|c| c.node == "n4") },
    )
    .await;
    eprintln!("n4 took over {took:?} after the cut");
    cluster.heal_all().await.unwrap();
    let c = redline::cluster::sharded::converge::converge(&cluster, Duration::from_secs(20)).await;
    assert!(c.converged, "{c:?}");
    assert!(
        c.shards
            .iter()
            .any(|s| s.primary == "n4" && s.replicas == ["n3"]),
        "{c:?}"
    );

    cluster.teardown();
    assert!(live_servers_under(dir.path()).is_empty());
}
