//! Passwords given as redis options (issue #17) stay readable by their owner only: the config
//! files redline writes are mode 0600, and so are those the servers rewrite themselves
//! (`CONFIG REWRITE`, which Sentinel also sends). A lone master keeps the test independent of
//! authentication, which redline's own clients do not do.

use redline::cluster::admin::{self, ADMIN_TIMEOUT};
use redline::cluster::backend::Backend as _;
use redline::cluster::{ClusterSpec, LocalCluster};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_holding_a_password_are_private_even_after_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let c = LocalCluster::start(ClusterSpec {
        replicas: 0,
        sentinels: 1,
        server_bin: redline::provision::locate_server(None, false)
            .expect("redis-server")
            .path,
        redis_options: vec![
            ("save".into(), "".into()),
            ("masterauth".into(), "s3cret".into()),
        ],
        redis_conf: None,
        run_dir: dir.path().to_path_buf(),
        sentinel_down_after_ms: 1000,
        sentinel_failover_timeout_ms: 3000,
        sharding: None,
        link_faults: true,
        lazy_disk: None,
    })
    .await
    .expect("cluster starts");
    let nodes = dir.path().join("nodes");
    let n1_conf = nodes.join("n1").join("redis.conf");
    assert!(std::fs::read_to_string(&n1_conf)
        .unwrap()
        .contains("s3cret"));
    assert_eq!(mode(&n1_conf), 0o600, "as redline wrote it");
    assert_eq!(mode(&nodes.join("s1").join("sentinel.conf")), 0o600);
    let rewrite = redis::cmd("CONFIG").arg("REWRITE").clone();
    let _: String = admin::command(c.admin_addr("n1").unwrap(), &rewrite, ADMIN_TIMEOUT)
        .await
        .expect("CONFIG REWRITE");
    assert!(std::fs::read_to_string(&n1_conf)
        .unwrap()
        .contains("s3cret"));
    assert_eq!(mode(&n1_conf), 0o600, "as the server rewrote it");
}
