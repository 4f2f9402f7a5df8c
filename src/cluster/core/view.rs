//! What the harness reads about a cluster (names, addresses, states, folders): the
//! [`Backend`] implementation, the same for every transport.

use super::Cluster;
use crate::cluster::admin::ServerIdentity;
use crate::cluster::backend::Backend;
use crate::cluster::capabilities::{Capabilities, LinkDelay, Partition, PowerLoss};
use crate::cluster::process::ProcessState;
use crate::cluster::transport::{Role, Server, Transport};
use anyhow::Result;
use redline_workloads::Topology;
use std::net::SocketAddr;
use std::path::PathBuf;

impl<T: Transport> Backend for Cluster<T> {
    fn topology(&self) -> Topology {
        self.topology.clone()
    }
    fn node_names(&self) -> Vec<String> {
        self.names(Role::Node)
    }
    fn sentinel_names(&self) -> Vec<String> {
        self.names(Role::Sentinel)
    }
    fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(|m| m.endpoint.admin)
    }
    fn client_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(|m| m.endpoint.client)
    }
    fn node_at(&self, addr: SocketAddr) -> Option<String> {
        self.role_members(Role::Node)
            .find(|m| m.endpoint.client == addr)
            .map(|m| m.name.clone())
    }
    fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.role_members(Role::Sentinel)
            .map(|s| (s.name.clone(), s.endpoint.admin))
            .collect()
    }
    /// As known here: a remote host is asked by `heal_all` only.
    fn state(&mut self, name: &str) -> Option<ProcessState> {
        let m = self.members.iter_mut().find(|m| m.name == name)?;
        Some(m.server.state())
    }
    /// The members' folders in the run folder: configs, logs, and (for local servers) data.
    fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        self.members
            .iter()
            .map(|m| (m.name.clone(), m.endpoint.local_dir.clone()))
            .collect()
    }
    fn server(&self) -> &ServerIdentity {
        &self.server
    }
    fn capabilities(&self) -> Capabilities {
        T::capabilities()
    }
    fn partition(&mut self) -> Option<&mut dyn Partition> {
        self.transport.partition()
    }
    fn link_delay(&mut self) -> Option<&mut dyn LinkDelay> {
        self.transport.link_delay()
    }
    fn power_loss(&mut self) -> Option<&mut dyn PowerLoss> {
        match self.transport.disks() {
            Some(_) => Some(self),
            None => None,
        }
    }
    async fn heal_all(&mut self) -> Result<Vec<String>> {
        Cluster::heal_all(self).await
    }
    fn teardown(&mut self) {
        Cluster::teardown(self);
    }
}
