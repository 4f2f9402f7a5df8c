//! One enum chooses the backend: [`BackendKind`] is what the configuration asked for (with each
//! backend's own options), asked for its [`Capabilities`] before anything starts, and
//! [`AnyCluster::start`] starts that backend's cluster behind one type, so the runner needs no
//! match of its own.

use super::admin::ServerIdentity;
use super::backend::Backend;
use super::capabilities::{Capabilities, Kill, LinkDelay, Partition, Pause, PowerLoss};
use super::core::ClusterSpec;
use super::local::{LocalCluster, LocalTransport};
use super::netns::{NetnsCluster, NetnsOptions, NetnsTransport};
use super::process::ProcessState;
use super::ssh::{SshCluster, SshOptions, SshTransport};
use super::transport::Transport;
use anyhow::Result;
use redline_workloads::Topology;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Which backend runs the cluster, with its options.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendKind {
    /// Processes on 127.0.0.1 behind redline's proxies (`--net local`).
    Local,
    /// One network namespace per member (`--net netns`).
    Netns(NetnsOptions),
    /// Real hosts over SSH (`--nodes`).
    Ssh(SshOptions),
}

impl BackendKind {
    /// What the backend can do; known before any cluster exists.
    pub fn capabilities(&self) -> Capabilities {
        match self {
            BackendKind::Local => LocalTransport::capabilities(),
            BackendKind::Netns(_) => NetnsTransport::capabilities(),
            BackendKind::Ssh(_) => SshTransport::capabilities(),
        }
    }

    /// The flag that chose the backend, for messages.
    pub fn flag(&self) -> &'static str {
        match self {
            BackendKind::Local => "--net local",
            BackendKind::Netns(_) => "--net netns",
            BackendKind::Ssh(_) => "--nodes",
        }
    }

    /// Whether the servers run on this machine (then the server binary is found here; with SSH
    /// `--server-bin` names it on the hosts, which check it themselves).
    pub fn runs_servers_here(&self) -> bool {
        !matches!(self, BackendKind::Ssh(_))
    }
}

/// The cluster of whichever backend a run chose.
pub enum AnyCluster {
    Local(LocalCluster),
    Netns(NetnsCluster),
    Ssh(SshCluster),
}

impl AnyCluster {
    /// Starts the cluster `kind` names (see each backend's `start`).
    pub async fn start(kind: &BackendKind, spec: ClusterSpec) -> Result<AnyCluster> {
        Ok(match kind {
            BackendKind::Local => AnyCluster::Local(LocalCluster::start(spec).await?),
            BackendKind::Netns(options) => {
                AnyCluster::Netns(NetnsCluster::start_with(spec, options.clone()).await?)
            }
            BackendKind::Ssh(options) => {
                AnyCluster::Ssh(SshCluster::start(spec, options.clone()).await?)
            }
        })
    }
}

/// `$body` with `$c` bound to the cluster inside, whichever backend it is.
macro_rules! each {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            AnyCluster::Local($c) => $body,
            AnyCluster::Netns($c) => $body,
            AnyCluster::Ssh($c) => $body,
        }
    };
}

impl Kill for AnyCluster {
    async fn kill(&mut self, node: &str) -> Result<()> {
        each!(self, c => c.kill(node).await)
    }
    async fn start(&mut self, node: &str) -> Result<()> {
        each!(self, c => Kill::start(c, node).await)
    }
}

impl Pause for AnyCluster {
    async fn pause(&mut self, node: &str) -> Result<()> {
        each!(self, c => c.pause(node).await)
    }
    async fn resume(&mut self, node: &str) -> Result<()> {
        each!(self, c => c.resume(node).await)
    }
}

impl Backend for AnyCluster {
    fn topology(&self) -> Topology {
        each!(self, c => c.topology())
    }
    fn node_names(&self) -> Vec<String> {
        each!(self, c => c.node_names())
    }
    fn sentinel_names(&self) -> Vec<String> {
        each!(self, c => c.sentinel_names())
    }
    fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        each!(self, c => c.admin_addr(name))
    }
    fn client_addr(&self, name: &str) -> Option<SocketAddr> {
        each!(self, c => c.client_addr(name))
    }
    fn node_at(&self, addr: SocketAddr) -> Option<String> {
        each!(self, c => c.node_at(addr))
    }
    fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        each!(self, c => c.sentinel_addrs())
    }
    fn state(&mut self, name: &str) -> Option<ProcessState> {
        each!(self, c => c.state(name))
    }
    fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        each!(self, c => c.node_dirs())
    }
    fn server(&self) -> &ServerIdentity {
        each!(self, c => c.server())
    }
    fn capabilities(&self) -> Capabilities {
        each!(self, c => c.capabilities())
    }
    fn partition(&mut self) -> Option<&mut dyn Partition> {
        each!(self, c => c.partition())
    }
    fn link_delay(&mut self) -> Option<&mut dyn LinkDelay> {
        each!(self, c => c.link_delay())
    }
    fn power_loss(&mut self) -> Option<&mut dyn PowerLoss> {
        each!(self, c => c.power_loss())
    }
    async fn heal_all(&mut self) -> Result<Vec<String>> {
        each!(self, c => c.heal_all().await)
    }
    fn teardown(&mut self) {
        each!(self, c => Backend::teardown(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::capabilities::Capability;
    use crate::cluster::ssh::NO_LAZY_DISK;

    /// SSH hosts get no lazy disk, whatever this machine has, and say why before anything
    /// starts; the backends on this machine have one exactly when it can mount FUSE.
    #[test]
    fn only_backends_on_this_machine_offer_lazy_disks() {
        let ssh = SshTransport::capabilities();
        assert_eq!(ssh.refusal(Capability::LazyDisk), Some(NO_LAZY_DISK));
        let here = redline_lazyfs::unavailable();
        for kind in [
            BackendKind::Local,
            BackendKind::Netns(NetnsOptions::default()),
        ] {
            assert_eq!(kind.capabilities().refusal(Capability::LazyDisk), here);
        }
    }
}
