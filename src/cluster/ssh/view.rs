//! What the harness reads about an SSH cluster (names, addresses, states, folders): the
//! [`Backend`](crate::cluster::backend::Backend) implementation that ties the SSH backend into
//! the runner, and a few SSH-specific accessors.

use super::cluster::{Member, SshCluster};
use crate::cluster::admin::ServerIdentity;
use crate::cluster::process::ProcessState;
use anyhow::Result;
use redline_workloads::Topology;
use std::net::SocketAddr;
use std::path::PathBuf;

impl SshCluster {
    /// The pid of a member's server on its host, while redline believes it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.member(name).and_then(|m| m.pid)
    }

    pub(super) fn member(&self, name: &str) -> Option<&Member> {
        self.nodes
            .iter()
            .chain(&self.sentinels)
            .find(|m| m.name == name)
    }

    pub(super) fn member_mut(&mut self, name: &str) -> Option<&mut Member> {
        self.nodes
            .iter_mut()
            .chain(self.sentinels.iter_mut())
            .find(|m| m.name == name)
    }

    pub(super) fn member_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| m.name.clone())
            .collect()
    }
}

/// The runner's view; these are the cluster's only accessors for names, addresses and states.
impl crate::cluster::backend::Backend for SshCluster {
    fn topology(&self) -> Topology {
        self.topology.clone()
    }
    fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }
    fn sentinel_names(&self) -> Vec<String> {
        self.sentinels.iter().map(|n| n.name.clone()).collect()
    }
    /// The local end of the SSH forward to the member's server: partitions never cut it.
    fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(|m| m.admin)
    }
    /// The member's address on its host, which clients, replicas and Sentinels use.
    fn client_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(Member::data_addr)
    }
    fn node_at(&self, addr: SocketAddr) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| n.data_addr() == addr)
            .map(|n| n.name.clone())
    }
    fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.sentinels
            .iter()
            .map(|s| (s.name.clone(), s.admin))
            .collect()
    }
    /// The state redline last gave or saw the member's server in (`heal_all` asks the hosts).
    fn state(&mut self, name: &str) -> Option<ProcessState> {
        self.member(name).map(|m| m.state)
    }
    /// Local member folders: the config redline uploaded and, after teardown, the logs.
    fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        self.nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| (m.name.clone(), m.local_dir.clone()))
            .collect()
    }
    fn server(&self) -> &ServerIdentity {
        &self.server
    }
    async fn heal_all(&mut self) -> Result<Vec<String>> {
        SshCluster::heal_all(self).await
    }
    fn teardown(&mut self) {
        for left in SshCluster::teardown(self) {
            tracing::warn!("ssh teardown could not finish: {left}");
        }
    }
}
