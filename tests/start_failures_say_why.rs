//! A server that fails at start says why (issue #17): what it printed on stderr before it had a
//! log file ("Bad directive ...") reaches the error redline reports, on the local backend and in
//! network namespaces, and nothing is left running.

mod netns_support;

use netns_support::live_servers_under;
use redline::cluster::{ClusterSpec, LocalCluster};
use std::path::Path;

/// A spec whose servers refuse their config: redis-server knows no such directive.
fn bad_spec(run_dir: &Path) -> ClusterSpec {
    let mut spec = netns_support::spec(run_dir, 0);
    spec.redis_options = vec![("no-such-directive".into(), "1".into())];
    spec
}

fn assert_explained(error: &anyhow::Error) {
    let text = format!("{error:#}");
    assert!(
        text.contains("Bad directive") && text.contains("no-such-directive"),
        "the server's own reason is in the error: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_server_that_refuses_its_config_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let Err(e) = LocalCluster::start(bad_spec(dir.path())).await else {
        panic!("a server with a bad directive cannot start");
    };
    assert_explained(&e);
    assert!(live_servers_under(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_netns_server_that_refuses_its_config_says_why() {
    skip_unless_netns!();
    let dir = tempfile::tempdir().unwrap();
    let Err(e) = redline::cluster::netns::NetnsCluster::start(bad_spec(dir.path())).await else {
        panic!("a server with a bad directive cannot start");
    };
    assert_explained(&e);
    assert!(live_servers_under(dir.path()).is_empty());
}
