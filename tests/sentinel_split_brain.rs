//! The classic experiment: three Sentinels, the master cut off from the Sentinels and the
//! replicas but not from its clients. Sentinel promotes a replica, the old master keeps
//! acknowledging writes, and after healing those writes are lost; redline reports them and
//! names the split-brain interval. On the proxy cluster and on netns hosts with nftables rules.

mod support;

use support::{run_test, servers_under, Store};

fn split_brain_loses_writes(extra: &[&str]) {
    let store = Store::new();
    let mut args = vec!["--sentinels", "3"];
    args.extend_from_slice(support::SPLIT_BRAIN);
    args.extend_from_slice(extra);
    let out = run_test(&store, &args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = store.results();
    let lost = r["checkers"]["lost-writes"]["stats"]["lost"]
        .as_u64()
        .unwrap();
    assert!(lost > 0, "acknowledged writes of the old master are lost");
    let sb = &r["checkers"]["split-brain"];
    assert_eq!(sb["valid"], false, "{sb}");
    let explanation = sb["anomalies"][0]["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("declared master") || explanation.contains("both acknowledged"),
        "{explanation}"
    );
    let history = std::fs::read_to_string(store.latest().join("history.jsonl")).unwrap();
    assert!(history.contains("+switch-master"));
    assert!(servers_under(store.path()).is_empty());
}

#[test]
fn minority_master_keeps_acknowledging_and_those_writes_are_lost() {
    split_brain_loses_writes(&[]);
}

#[test]
fn minority_master_on_netns_hosts_loses_writes_the_same_way() {
    if redline::cluster::netns::unavailable().is_some() {
        eprintln!("SKIPPED: --net netns needs root, ip netns and nft");
        return;
    }
    split_brain_loses_writes(&["--net", "netns"]);
}
