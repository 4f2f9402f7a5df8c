//! `--topology standalone|cluster`, `--shards`, `--cluster-node-timeout`: which shape the
//! cluster under test has, checked up front. A Redis Cluster has no Sentinels (the cluster bus
//! decides failover), at least one shard, and with `--nodes` one host per node, shard by
//! shard.

use super::limits::{self, MAX_SHARDS};
use super::TestConfig;
use crate::cluster::sharded::Sharding;
use anyhow::{bail, Result};

/// The topologies `--topology` accepts.
pub const TOPOLOGIES: &[&str] = &["standalone", "cluster"];

/// The sharding `--topology cluster` asks for, or `None` for `standalone`.
pub fn sharding(c: &TestConfig) -> Result<Option<Sharding>> {
    match c.topology.as_str() {
        "standalone" => Ok(None),
        "cluster" => {
            if c.sentinels > 0 {
                bail!(
                    "--topology cluster has no Sentinels (the cluster bus decides failover); \
                     leave out --sentinels"
                );
            }
            limits::count("--shards", c.shards as u64, 1, MAX_SHARDS as u64)?;
            limits::millis(
                "--cluster-node-timeout",
                c.cluster_node_timeout,
                100,
                limits::MAX_MS,
            )?;
            Ok(Some(Sharding {
                shards: c.shards,
                replicas: c.replicas,
                node_timeout_ms: c.cluster_node_timeout,
            }))
        }
        other => bail!(
            "--topology must be one of {}, not {other:?}",
            TOPOLOGIES.join(", ")
        ),
    }
}

/// The replicas per shard (or of the master) that `hosts` hosts of `--nodes` make: in cluster
/// mode the hosts are the shards' nodes, shard by shard, so their number must be a multiple of
/// `--shards`.
pub fn replicas_of_hosts(c: &TestConfig, hosts: usize) -> Result<usize> {
    if c.topology != "cluster" {
        return Ok(hosts.saturating_sub(1));
    }
    let shards = c.shards.max(1);
    if !hosts.is_multiple_of(shards) || hosts < shards {
        bail!(
            "--nodes names {hosts} nodes, which do not make {shards} shards of equal size \
             (--shards {shards}: n1.. are shard 1's nodes, then shard 2's, ...)"
        );
    }
    Ok(hosts / shards - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(f: impl FnOnce(&mut TestConfig)) -> TestConfig {
        let mut c = TestConfig {
            topology: "cluster".into(),
            replicas: 1,
            ..TestConfig::default()
        };
        f(&mut c);
        c
    }

    #[test]
    fn cluster_topology_is_checked_up_front() {
        let s = sharding(&cluster(|_| {})).unwrap().unwrap();
        assert_eq!((s.shards, s.replicas, s.node_timeout_ms), (3, 1, 2000));
        assert!(sharding(&TestConfig::default()).unwrap().is_none());
        let e = sharding(&cluster(|c| c.sentinels = 3)).unwrap_err();
        assert!(e.to_string().contains("no Sentinels"), "{e}");
        let e = sharding(&cluster(|c| c.shards = 0)).unwrap_err();
        assert!(e.to_string().contains("--shards"), "{e}");
        let e = sharding(&cluster(|c| c.topology = "ring".into())).unwrap_err();
        assert!(e.to_string().contains("--topology"), "{e}");
        let e = sharding(&cluster(|c| c.cluster_node_timeout = 5)).unwrap_err();
        assert!(e.to_string().contains("--cluster-node-timeout"), "{e}");
    }

    #[test]
    fn hosts_make_whole_shards() {
        assert_eq!(replicas_of_hosts(&cluster(|_| {}), 6).unwrap(), 1);
        assert!(replicas_of_hosts(&cluster(|_| {}), 5).is_err());
        assert_eq!(replicas_of_hosts(&TestConfig::default(), 3).unwrap(), 2);
    }
}
