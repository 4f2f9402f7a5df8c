//! The local backend (the default, no root): every node and Sentinel is a server process on
//! 127.0.0.1 with its own folder under the run. When the plan can cut or delay links
//! (`ClusterSpec::link_faults`), each is reached through its own redline proxy, so that
//! partitions and delays are real TCP behaviour between the parties; otherwise everyone
//! (clients, replicas, Sentinels) reaches the server directly, and the backend offers no
//! partitions or delays.
//!
//! - [`proxy`]: the proxy in front of each server, obeying the link table.
//! - [`pump`]: one direction of a proxied connection: straight through while the link is open,
//!   a delay line while it is cut or delayed.
//! - [`peer_identity`]: which server opened a connection, so a proxy knows the party.
//! - [`proxy_links`]: cut and delayed links as rules of the link table (`Partition`,
//!   `LinkDelay`).
//!
//! The transport here only lays the members out (ports, proxies, folders, the nodes' lazy
//! disks when the run asks for them) and keeps the proxies' view of which pid is which party;
//! starting, healing and the rest are the cluster core's.

pub mod peer_identity;
pub mod proxy;
pub mod proxy_links;
pub mod pump;

use super::capabilities::{lazy_disk_here, Capabilities, LinkDelay, Partition, Support};
use super::core::{Cluster, ClusterSpec};
use super::disks::Disks;
use super::links::{LinkTable, Party};
use super::process::ServerProcess;
use super::transport::{Endpoint, Member, Role, Transport, BUS_PORT_OFFSET};
use anyhow::{Context, Result};
use proxy::{KnownPids, Proxy};
use proxy_links::ProxyLinks;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

/// A running local cluster. Dropping it stops every process it started.
pub type LocalCluster = Cluster<LocalTransport>;

impl LocalCluster {
    /// Starts a master (`n1`), `spec.replicas` replicas and `spec.sentinels` Sentinels, and
    /// waits until replication is up everywhere.
    pub async fn start(spec: ClusterSpec) -> Result<LocalCluster> {
        Cluster::launch(spec, |spec| Ok(LocalTransport::new(spec))).await
    }
}

/// Processes on this machine, each behind a proxy of its own.
pub struct LocalTransport {
    server_bin: std::path::PathBuf,
    links: ProxyLinks,
    /// Whether members get proxies (the plan can cut or delay links).
    proxied: bool,
    /// Which pid is which party, for the proxies.
    known: KnownPids,
    /// Kept alive for the cluster's life: dropping a proxy closes its connections.
    proxies: Vec<Proxy>,
    /// In cluster mode, the proxy in front of each node's cluster bus, by node name.
    bus: HashMap<String, SocketAddr>,
    /// The nodes' lazy disks, when the run asked for them.
    disks: Option<Disks>,
}

impl LocalTransport {
    fn new(spec: &ClusterSpec) -> LocalTransport {
        LocalTransport {
            server_bin: spec.server_bin.clone(),
            links: ProxyLinks::new(Arc::new(LinkTable::default())),
            proxied: spec.link_faults,
            known: KnownPids::default(),
            proxies: Vec::new(),
            bus: HashMap::new(),
            disks: None,
        }
    }

    /// Puts a proxy in front of cluster node `member`'s bus (its port + 10000), so that a cut
    /// link between two nodes also silences their cluster bus, as a firewall rule would.
    fn proxy_bus(&mut self, member: &Member<ServerProcess>) -> Result<()> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("binding a bus proxy port on 127.0.0.1")?;
        let bus_port = member.endpoint.port + BUS_PORT_OFFSET;
        let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, bus_port));
        let proxy = Proxy::start(
            listener,
            LocalTransport::party(member),
            upstream,
            self.links.table(),
            self.known.clone(),
        )?;
        self.bus.insert(member.name.clone(), proxy.listen);
        self.proxies.push(proxy);
        Ok(())
    }

    fn party(member: &Member<ServerProcess>) -> Party {
        match member.role {
            Role::Node => Party::Node(member.name.clone()),
            Role::Sentinel => Party::Sentinel(member.name.clone()),
        }
    }
}

impl Transport for LocalTransport {
    type Server = ServerProcess;
    fn capabilities() -> Capabilities {
        Capabilities {
            partition: Support::Yes,
            link_delay: Support::Yes,
            lazy_disk: lazy_disk_here(),
        }
    }
    const LOCAL_PROCESSES: bool = true;

    /// Every proxy's port is bound before any server's port is chosen, and every server's port
    /// before any server binds it (see [`free_port`]).
    async fn members(&mut self, spec: &ClusterSpec) -> Result<Vec<Member<ServerProcess>>> {
        let plan = spec.members();
        let mut listeners: Vec<Option<TcpListener>> = Vec::new();
        for _ in &plan {
            let listener = match self.proxied {
                true => Some(
                    TcpListener::bind("127.0.0.1:0")
                        .context("binding a proxy port on 127.0.0.1")?,
                ),
                false => None,
            };
            listeners.push(listener);
        }
        let mut members = Vec::new();
        for ((name, role), listener) in plan.into_iter().zip(listeners) {
            let port = match spec.sharding {
                Some(_) => free_port_with_bus()?,
                None => free_port()?,
            };
            let admin = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let client = match &listener {
                Some(l) => l.local_addr()?,
                None => admin,
            };
            let dir = spec.run_dir.join("nodes").join(&name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let endpoint = Endpoint {
                admin,
                client,
                port,
                bind: vec![Ipv4Addr::LOCALHOST.into()],
                dir: dir.clone(),
                local_dir: dir.clone(),
            };
            let mut args = vec![endpoint.conf(role).display().to_string()];
            if role == Role::Sentinel {
                args.push("--sentinel".to_string());
            }
            let server = ServerProcess::new(&name, &self.server_bin, args, &dir);
            let member = Member {
                name,
                role,
                endpoint,
                server,
            };
            if let Some(listener) = listener {
                let party = LocalTransport::party(&member);
                let upstream = member.endpoint.admin;
                let proxy = Proxy::start(
                    listener,
                    party.clone(),
                    upstream,
                    self.links.table(),
                    self.known.clone(),
                )?;
                self.proxies.push(proxy);
                self.links.add_party(party);
                // The cluster bus too, so that a cut also silences gossip and failover votes.
                if spec.sharding.is_some() {
                    self.proxy_bus(&member)?;
                }
            }
            members.push(member);
        }
        self.disks = Disks::for_members(spec, &members)?;
        Ok(members)
    }

    fn running(&mut self, member: &Member<ServerProcess>, pid: u32) {
        if let Ok(mut known) = self.known.write() {
            known.insert(pid, LocalTransport::party(member));
        }
    }

    fn stopped(&mut self, member: &Member<ServerProcess>) {
        let party = LocalTransport::party(member);
        if let Ok(mut known) = self.known.write() {
            known.retain(|_, p| *p != party);
        }
    }

    /// The bus proxy's address, where there is one.
    fn bus_announce(&self, member: &Member<ServerProcess>) -> SocketAddr {
        match self.bus.get(&member.name) {
            Some(addr) => *addr,
            None => SocketAddr::from((
                member.endpoint.client.ip(),
                member.endpoint.port + BUS_PORT_OFFSET,
            )),
        }
    }

    /// Clients find the master by asking a Sentinel directly: no fault ever cuts the clients
    /// from the Sentinels (a grudge puts them on the Sentinels' side), so the proxy is left out.
    fn sentinel_discovery(&self, member: &Member<ServerProcess>) -> SocketAddr {
        member.endpoint.admin
    }

    /// Only with proxies: without them no byte passes through redline.
    fn partition(&mut self) -> Option<&mut dyn Partition> {
        self.proxied.then_some(&mut self.links)
    }

    fn link_delay(&mut self) -> Option<&mut dyn LinkDelay> {
        self.proxied.then_some(&mut self.links)
    }

    fn disks(&self) -> Option<&Disks> {
        self.disks.as_ref()
    }

    fn teardown(&mut self, members: &mut Vec<Member<ServerProcess>>) -> Vec<String> {
        // Members are nodes then Sentinels: in reverse, the Sentinels go first.
        for m in members.iter_mut().rev() {
            let _ = m.server.kill();
        }
        if let Ok(mut known) = self.known.write() {
            known.clear();
        }
        // With no server left holding them, the disks unmount cleanly.
        self.disks
            .as_mut()
            .map(Disks::unmount_all)
            .unwrap_or_default()
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it later, once every
/// config is written).
///
/// Ports come from 20000..32000, below Linux's ephemeral range (32768..60999): a port the
/// kernel hands out by itself is also handed to outgoing connections, and one of those could
/// take it between our check and the server's bind. A port handed out recently by this process
/// is never handed out again: it may not be bound yet (a cluster's ports are all chosen before
/// its servers start), so the bind check alone could give it to two servers.
fn free_port() -> Result<u16> {
    if let Some(port) = free_ports(20_000..32_000, &[0]) {
        return Ok(port);
    }
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// A free port for a cluster node whose bus port (the port + 10000) is free too, both below
/// Linux's ephemeral range (see [`free_port`]): the port comes from 20000..22768.
fn free_port_with_bus() -> Result<u16> {
    free_ports(20_000..32_768 - BUS_PORT_OFFSET, &[0, BUS_PORT_OFFSET])
        .context("found no free port pair (p, p + 10000) on 127.0.0.1 below 32768")
}

/// A port `p` from `range` such that every `p + offset` is free and not handed out recently;
/// all of them count as handed out from now on.
fn free_ports(range: std::ops::Range<u16>, offsets: &[u16]) -> Option<u16> {
    use rand::Rng;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    static RECENT: Mutex<VecDeque<u16>> = Mutex::new(VecDeque::new());
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = rand::thread_rng();
    for _ in 0..500 {
        let port = rng.gen_range(range.clone());
        let ports: Vec<u16> = offsets.iter().map(|o| port + o).collect();
        let free = ports
            .iter()
            .all(|p| !recent.contains(p) && TcpListener::bind(("127.0.0.1", *p)).is_ok());
        if free {
            for p in ports {
                if recent.len() >= 4096 {
                    recent.pop_front();
                }
                recent.push_back(p);
            }
            return Some(port);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster's ports are all chosen before any server binds: two choices in a row must
    /// never be the same port, however the random draws fall.
    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..2000).map(|_| free_port().unwrap()).collect();
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len());
    }

    /// A cluster node's bus port is its port + 10000: neither may be another node's port.
    #[test]
    fn cluster_ports_and_their_bus_ports_are_all_distinct() {
        let mut all = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let port = free_port_with_bus().unwrap();
            assert!(port + BUS_PORT_OFFSET < 32_768);
            assert!(all.insert(port) && all.insert(port + BUS_PORT_OFFSET));
            assert!(all.insert(free_port().unwrap()));
        }
    }
}
