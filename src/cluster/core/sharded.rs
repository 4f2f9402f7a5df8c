//! The cluster-mode launch (`--topology cluster`): every node is started with
//! `cluster-enabled yes` and no `replicaof` (a cluster node learns its role from the cluster),
//! then the cluster is formed ([`form`](crate::cluster::sharded::form)): config epochs, MEET,
//! slots, replicas, and the wait until every node serves.

use super::Cluster;
use crate::cluster::admin::{self, ServerIdentity, ADMIN_TIMEOUT};
use crate::cluster::capabilities::READY_TIMEOUT;
use crate::cluster::sharded::form::{self, FormNode};
use crate::cluster::sharded::{NodeAddr, ShardedLayout, Sharding};
use crate::cluster::transport::{Role, Transport};
use anyhow::{Context, Result};
use redline_workloads::Topology;
use std::net::SocketAddr;

impl<T: Transport> Cluster<T> {
    /// Starts every node of the shards and forms the cluster.
    pub(super) async fn launch_sharded(&mut self, sharding: Sharding) -> Result<()> {
        let nodes: Vec<(String, SocketAddr)> = self
            .role_members(Role::Node)
            .map(|m| (m.name.clone(), m.endpoint.client))
            .collect();
        self.topology = Topology::new(&nodes, &sharding.initial_primary(1));
        self.topology.use_cluster();
        for (name, _) in &nodes {
            self.write_node_conf(name, None).await?;
            self.start_member(name).await?;
        }
        let n1 = self.members[0].endpoint.admin;
        self.server = ServerIdentity::parse(&admin::info(n1, "server", ADMIN_TIMEOUT).await?);
        let plan: Vec<FormNode> = self
            .role_members(Role::Node)
            .map(|m| FormNode {
                node: NodeAddr {
                    name: m.name.clone(),
                    admin: m.endpoint.admin,
                    announce: m.endpoint.client,
                },
                bus: self.transport.bus_announce(m),
            })
            .collect();
        let ids = form::form(&sharding, &plan, READY_TIMEOUT)
            .await
            .context("forming the cluster")?;
        self.sharded = Some(ShardedLayout { sharding, ids });
        Ok(())
    }

    /// In cluster mode, the shards and the node ids the cluster was formed with.
    pub fn sharded(&self) -> Option<&ShardedLayout> {
        self.sharded.as_ref()
    }
}
