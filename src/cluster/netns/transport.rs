//! The netns transport: every node and Sentinel is a server process in its own network
//! namespace, on its own address of a bridge redline creates; clients reach the nodes directly,
//! with no proxy, from the root namespace's address on that bridge.
//!
//! The network is made before the cluster core starts anything (see `namespace.rs`); each
//! server runs as `ip netns exec <ns> <server> <conf>` (`ip` execs, so the pid is the server's,
//! or its wrapper's, leading the process group); partitions are the firewall's nftables rules;
//! delay is not available, since this kernel has no netem. Teardown stops every process and
//! removes the network.

use super::firewall::NamespaceHost;
use super::names::{Subnet, Tag, MAX_NODES, MAX_SENTINELS};
use super::namespace::Network;
use crate::cluster::capabilities::{lazy_disk_here, Capabilities, LinkDelay, Partition};
use crate::cluster::core::{Cluster, ClusterSpec};
use crate::cluster::disks::Disks;
use crate::cluster::firewall::Firewall;
use crate::cluster::process::ServerProcess;
use crate::cluster::transport::{Endpoint, Member, Role, Transport};
use anyhow::{bail, Context, Result};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The port every node listens on (each has its own address, so all can use the default).
pub const NODE_PORT: u16 = 6379;
/// The port every Sentinel listens on.
pub const SENTINEL_PORT: u16 = 26379;

/// Why link delay is not available, word for word.
pub const NO_NETEM: &str =
    "delay needs netem, which this kernel lacks; use --net local (redline's proxy)";

/// Options of the netns backend beyond the [`ClusterSpec`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetnsOptions {
    /// The private /24 the run owns; `None` picks a free `10.87.<n>.0/24`.
    pub subnet: Option<Subnet>,
}

/// A running netns cluster. Dropping it stops every process and removes every namespace,
/// veth, bridge and rule it created.
pub type NetnsCluster = Cluster<NetnsTransport>;

impl NetnsCluster {
    /// Starts a master (`n1`), `spec.replicas` replicas and `spec.sentinels` Sentinels, each in
    /// its own namespace, on a free `10.87.<n>.0/24`, and waits until replication is up.
    pub async fn start(spec: ClusterSpec) -> Result<NetnsCluster> {
        NetnsCluster::start_with(spec, NetnsOptions::default()).await
    }

    /// [`NetnsCluster::start`] with backend options.
    pub async fn start_with(spec: ClusterSpec, options: NetnsOptions) -> Result<NetnsCluster> {
        Cluster::launch(spec, |spec| NetnsTransport::create(spec, options)).await
    }

    /// The run's tag: every namespace, veth and bridge name starts with it.
    pub fn tag(&self) -> &Tag {
        &self.transport().network.tag
    }

    /// The /24 the run owns.
    pub fn subnet(&self) -> Subnet {
        self.transport().network.subnet
    }

    /// The root namespace's address on the bridge (the `clients` party of a grudge).
    pub fn clients_addr(&self) -> Ipv4Addr {
        self.transport().network.bridge_addr()
    }

    /// Each member's namespace, by member name.
    pub fn namespaces(&self) -> Vec<(String, String)> {
        self.transport()
            .network
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.namespace.clone()))
            .collect()
    }

    /// The directed links cut now.
    pub fn cut_links(&self) -> Vec<(String, String)> {
        Partition::cut_links(&self.transport().firewall)
    }
}

/// Servers in namespaces of a network the run owns.
pub struct NetnsTransport {
    server_bin: PathBuf,
    network: Network,
    firewall: Firewall<NamespaceHost>,
    /// The nodes' lazy disks, when the run asked for them. Mounted in the root namespace
    /// before any server starts: `ip netns exec` gives each server a copy of the mount table
    /// (slave to the root's), so it sees them.
    disks: Option<Disks>,
}

impl NetnsTransport {
    /// Checks that the backend can run here, then creates the network: the bridge and one
    /// namespace per member. On an error, whatever was made is removed again.
    fn create(spec: &ClusterSpec, options: NetnsOptions) -> Result<NetnsTransport> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            bail!("--net netns needs root (network namespaces, veths, nftables); run as root or use --net local");
        }
        if spec.replicas + 1 > MAX_NODES || spec.sentinels > MAX_SENTINELS {
            bail!("--net netns supports up to {MAX_NODES} nodes and {MAX_SENTINELS} Sentinels");
        }
        let plan: Vec<(String, bool, usize)> = spec
            .members()
            .into_iter()
            .map(|(name, role)| {
                let index = name[1..].parse().unwrap_or(0);
                (name, role == Role::Sentinel, index)
            })
            .collect();
        let tag = Tag::generate();
        let network = Network::create(tag.clone(), options.subnet, &plan, &spec.run_dir)?;
        tracing::info!(
            "netns network {tag} on {} (bridge {})",
            network.subnet,
            tag.bridge()
        );
        let clients = network.bridge_addr();
        let hosts = network.hosts.iter().map(|h| NamespaceHost::new(h, clients));
        let firewall = Firewall::new(tag.table(), hosts.collect());
        Ok(NetnsTransport {
            server_bin: spec.server_bin.clone(),
            network,
            firewall,
            disks: None,
        })
    }

    /// A process started inside namespace `namespace`, working in `dir`.
    fn in_namespace(
        &self,
        namespace: &str,
        name: &str,
        dir: &Path,
        args: Vec<String>,
    ) -> ServerProcess {
        let mut full = vec![
            "netns".to_string(),
            "exec".to_string(),
            namespace.to_string(),
            self.server_bin.display().to_string(),
        ];
        full.extend(args);
        ServerProcess::new(name, Path::new("ip"), full, dir)
    }
}

impl Transport for NetnsTransport {
    type Server = ServerProcess;
    fn capabilities() -> Capabilities {
        Capabilities::firewalled(NO_NETEM, lazy_disk_here())
    }
    const LOCAL_PROCESSES: bool = true;

    /// Each member listens on its namespace's two addresses: the data address (what clients,
    /// replicas and Sentinels use, and partitions cut) and the admin address (the harness's).
    async fn members(&mut self, spec: &ClusterSpec) -> Result<Vec<Member<ServerProcess>>> {
        let mut members = Vec::new();
        for (name, role) in spec.members() {
            let host = self.network.host(&name).context("a member's host")?.clone();
            let port = match role {
                Role::Node => NODE_PORT,
                Role::Sentinel => SENTINEL_PORT,
            };
            let dir = spec.run_dir.join("nodes").join(&name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let endpoint = Endpoint {
                admin: SocketAddr::from((host.admin, port)),
                client: SocketAddr::from((host.data, port)),
                port,
                bind: vec![host.data.into(), host.admin.into()],
                dir: dir.clone(),
                local_dir: dir.clone(),
            };
            let mut args = vec![endpoint.conf(role).display().to_string()];
            if role == Role::Sentinel {
                args.push("--sentinel".to_string());
            }
            let server = self.in_namespace(&host.namespace, &name, &dir, args);
            members.push(Member {
                name,
                role,
                endpoint,
                server,
            });
        }
        self.disks = Disks::for_members(spec, &members)?;
        Ok(members)
    }

    fn partition(&mut self) -> Option<&mut dyn Partition> {
        Some(&mut self.firewall)
    }

    fn link_delay(&mut self) -> Option<&mut dyn LinkDelay> {
        None
    }

    fn disks(&self) -> Option<&Disks> {
        self.disks.as_ref()
    }

    /// Stops every process (Sentinels first), unmounts the lazy disks, then removes every
    /// namespace with its rules, every veth and the bridge, and the netns record.
    fn teardown(&mut self, members: &mut Vec<Member<ServerProcess>>) -> Vec<String> {
        // Members are nodes then Sentinels: in reverse, the Sentinels go first.
        for m in members.iter_mut().rev() {
            let _ = m.server.kill();
        }
        let mut failures = self
            .disks
            .as_mut()
            .map(Disks::unmount_all)
            .unwrap_or_default();
        failures.extend(self.network.teardown());
        failures
    }
}
