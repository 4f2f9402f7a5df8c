//! Redis Cluster (and Valkey's cluster mode): `--topology cluster --shards S --replicas R`.
//! Every shard is the master-replica replication the rest of redline tests; failover is decided
//! by the cluster bus instead of Sentinel, and slots can move between shards while clients
//! write.
//!
//! The cluster core starts the nodes with `cluster-enabled yes` like any other node (their
//! config says so, `redis_conf`), then forms the cluster itself, as an operator's script would:
//!
//! - [`Sharding`]: what was asked (shards, node timeout); which node starts in which shard and
//!   with which slots (an even split, shard 1 first).
//! - [`nodes`]: `CLUSTER NODES` and `CLUSTER INFO` parsed, pure.
//! - [`view`]: every node's own view of the cluster, fetched through the harness's addresses:
//!   who is primary of which slots, whose replica each node is, open slots.
//! - [`form`]: forming the cluster: config epochs, `CLUSTER MEET`, slot assignment
//!   (`ADDSLOTSRANGE`, or `ADDSLOTS` where the server lacks it), `CLUSTER REPLICATE`, and the
//!   wait until it is whole.
//! - [`converge`]: after healing: every slot covered by one primary that every node agrees on,
//!   no slot left open by a migration, `cluster_state:ok` everywhere, replicas caught up.
//! - [`migrate`]: moving slots between shards, the classic way (`CLUSTER SETSLOT` IMPORTING /
//!   MIGRATING and `MIGRATE`) and with Valkey's atomic slot migration (`CLUSTER MIGRATESLOTS`).
//!
//! Shards are named by their initial members (shard 1 is `n1`..`n{R+1}`, `n1` its first
//! primary), and keep that name whatever fails over inside them: a node's shard is where it
//! started.

pub mod converge;
pub mod form;
pub mod migrate;
pub mod nodes;
pub mod view;

use crate::cluster::backend::Backend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The number of hash slots of every Redis Cluster.
pub const SLOTS: u16 = 16384;

/// How a cluster-mode test is sharded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sharding {
    /// Primaries, each with its slot range and its replicas.
    pub shards: usize,
    /// Replicas per shard.
    pub replicas: usize,
    /// `cluster-node-timeout` in milliseconds: how long a node may be unreachable before it
    /// is flagged failing and (for a primary) a replica takes over.
    pub node_timeout_ms: u64,
}

impl Sharding {
    /// Nodes per shard (a primary and its replicas).
    pub fn per_shard(&self) -> usize {
        self.replicas + 1
    }

    /// Every node of the cluster.
    pub fn node_count(&self) -> usize {
        self.shards * self.per_shard()
    }

    /// The shard (1-based) node `n{index}` (1-based) starts in.
    pub fn shard_of_index(&self, index: usize) -> usize {
        (index.saturating_sub(1)) / self.per_shard() + 1
    }

    /// The shard (1-based) node `name` starts in, if it is a node name of this cluster.
    pub fn shard_of(&self, name: &str) -> Option<usize> {
        let index: usize = name.strip_prefix('n')?.parse().ok()?;
        (1..=self.node_count())
            .contains(&index)
            .then(|| self.shard_of_index(index))
    }

    /// The nodes shard `shard` (1-based) starts with; its first primary first.
    pub fn members_of(&self, shard: usize) -> Vec<String> {
        let first = (shard - 1) * self.per_shard() + 1;
        (first..first + self.per_shard())
            .map(|i| format!("n{i}"))
            .collect()
    }

    /// The first primary of shard `shard`.
    pub fn initial_primary(&self, shard: usize) -> String {
        format!("n{}", (shard - 1) * self.per_shard() + 1)
    }

    /// The slots shard `shard` (1-based) starts with: an even split of the 16384, in order.
    pub fn initial_slots(&self, shard: usize) -> (u16, u16) {
        initial_slots(shard, self.shards)
    }
}

/// A formed cluster: its sharding, and the id each node was given (ids survive restarts: they
/// live in each node's `nodes.conf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedLayout {
    pub sharding: Sharding,
    /// Node name to cluster node id.
    pub ids: BTreeMap<String, String>,
}

impl ShardedLayout {
    /// The node whose cluster id is `id`.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.ids
            .iter()
            .find(|(_, i)| i.as_str() == id)
            .map(|(n, _)| n.as_str())
    }

    /// The cluster id of node `name`.
    pub fn id_of(&self, name: &str) -> Option<&str> {
        self.ids.get(name).map(String::as_str)
    }
}

/// A cluster node as the harness reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddr {
    pub name: String,
    /// Where the harness's own commands go (never cut by a fault).
    pub admin: SocketAddr,
    /// The client address the node announces: where clients and the other nodes reach it
    /// (what `MIGRATE` connects to, and what faults act on).
    pub announce: SocketAddr,
}

/// Every data node of `cluster` with its addresses.
pub fn node_addrs<B: Backend>(cluster: &B) -> Vec<NodeAddr> {
    cluster
        .node_names()
        .into_iter()
        .filter_map(|name| {
            Some(NodeAddr {
                admin: cluster.admin_addr(&name)?,
                announce: cluster.client_addr(&name)?,
                name,
            })
        })
        .collect()
}

pub use redline_workloads::cluster::slot::initial_slots;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_slots_cover_every_slot_once() {
        for shards in 1..=10 {
            let mut next = 0u32;
            for shard in 1..=shards {
                let (a, b) = initial_slots(shard, shards);
                assert_eq!(a as u32, next, "{shards} shards, shard {shard}");
                assert!(b >= a);
                next = b as u32 + 1;
            }
            assert_eq!(next, SLOTS as u32);
        }
        assert_eq!(initial_slots(1, 3), (0, 5460));
        assert_eq!(initial_slots(3, 3), (10922, 16383));
    }

    #[test]
    fn nodes_are_numbered_shard_by_shard() {
        let s = Sharding {
            shards: 3,
            replicas: 1,
            node_timeout_ms: 2000,
        };
        assert_eq!(s.node_count(), 6);
        assert_eq!(s.members_of(2), vec!["n3", "n4"]);
        assert_eq!(s.initial_primary(3), "n5");
        assert_eq!(s.shard_of("n4"), Some(2));
        assert_eq!(s.shard_of("n7"), None);
        assert_eq!(s.shard_of("s1"), None);
    }
}
