//! The netns backend: every node and Sentinel is a server process in its own network namespace,
//! on its own address of a bridge redline creates; clients reach the nodes directly, with no
//! proxy, from the root namespace's address on that bridge.
//!
//! Life of a cluster mirrors [`LocalCluster`](crate::cluster::LocalCluster):
//! [`NetnsCluster::start`] creates the network (see `namespace.rs`), writes configs, starts the
//! processes (`ip netns exec <ns> <server> <conf>`; `ip` execs, so the pid is the server's) and
//! waits for replication and Sentinels; faults go through the capability traits (`faults.rs`);
//! [`NetnsCluster::teardown`] (also run on drop) stops every process and removes the network.

use super::firewall::Firewall;
use super::names::{Subnet, Tag, MAX_NODES, MAX_SENTINELS};
use super::namespace::{Host, Network};
use crate::cluster::admin::{self, ServerIdentity, ADMIN_TIMEOUT};
use crate::cluster::capabilities::READY_TIMEOUT;
use crate::cluster::pids::{PidEntry, PidFile, PID_FILE};
use crate::cluster::process::{ProcessState, ServerProcess};
use crate::cluster::redis_conf::{self, NodeConf, SentinelConf, MASTER_NAME};
use crate::cluster::ClusterSpec;
use anyhow::{bail, Context, Result};
use redline_workloads::Topology;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The port every node listens on (each has its own address, so all can use the default).
pub const NODE_PORT: u16 = 6379;
/// The port every Sentinel listens on.
pub const SENTINEL_PORT: u16 = 26379;

/// Options of the netns backend beyond the [`ClusterSpec`].
#[derive(Debug, Clone, Default)]
pub struct NetnsOptions {
    /// The private /24 the run owns; `None` picks a free `10.87.<n>.0/24`.
    pub subnet: Option<Subnet>,
}

/// A node or a Sentinel.
pub(super) struct Member {
    pub(super) name: String,
    pub(super) host: Host,
    pub(super) port: u16,
    pub(super) dir: PathBuf,
    pub(super) conf: PathBuf,
    pub(super) process: ServerProcess,
}

impl Member {
    /// Where the harness's own commands go (never cut by a partition).
    pub(super) fn admin_addr(&self) -> SocketAddr {
        SocketAddr::from((self.host.admin, self.port))
    }

    /// Where clients, replicas and Sentinels connect (what partitions cut).
    pub(super) fn data_addr(&self) -> SocketAddr {
        SocketAddr::from((self.host.data, self.port))
    }
}

/// A running netns cluster. Dropping it stops every process and removes every namespace,
/// veth, bridge and rule it created.
pub struct NetnsCluster {
    pub(super) spec: ClusterSpec,
    pub(super) nodes: Vec<Member>,
    pub(super) sentinels: Vec<Member>,
    pub(super) firewall: Firewall,
    pub(super) network: Network,
    pub(super) topology: Topology,
    /// What the servers say they are.
    pub server: ServerIdentity,
}

impl NetnsCluster {
    /// Starts a master (`n1`), `spec.replicas` replicas and `spec.sentinels` Sentinels, each in
    /// its own namespace, on a free `10.87.<n>.0/24`, and waits until replication is up.
    pub async fn start(spec: ClusterSpec) -> Result<NetnsCluster> {
        NetnsCluster::start_with(spec, NetnsOptions::default()).await
    }

    /// [`NetnsCluster::start`] with backend options.
    pub async fn start_with(mut spec: ClusterSpec, options: NetnsOptions) -> Result<NetnsCluster> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            bail!("--net netns needs root (network namespaces, veths, nftables); run as root or use --net local");
        }
        let node_count = spec.replicas + 1;
        if node_count > MAX_NODES || spec.sentinels > MAX_SENTINELS {
            bail!("--net netns supports up to {MAX_NODES} nodes and {MAX_SENTINELS} Sentinels");
        }
        std::fs::create_dir_all(&spec.run_dir)
            .with_context(|| format!("creating {}", spec.run_dir.display()))?;
        spec.run_dir = spec.run_dir.canonicalize()?;
        let mut plan: Vec<(String, bool, usize)> = (1..=node_count)
            .map(|i| (format!("n{i}"), false, i))
            .collect();
        plan.extend((1..=spec.sentinels).map(|i| (format!("s{i}"), true, i)));
        let tag = Tag::generate();
        let network = Network::create(tag.clone(), options.subnet, &plan, &spec.run_dir)?;
        tracing::info!(
            "netns network {tag} on {} (bridge {})",
            network.subnet,
            tag.bridge()
        );
        let mut cluster = NetnsCluster {
            firewall: Firewall::new(tag.table()),
            nodes: Vec::new(),
            sentinels: Vec::new(),
            topology: Topology::new(&[], "n1"),
            server: ServerIdentity::default(),
            network,
            spec,
        };
        // From here on an error drops the cluster, which tears everything down.
        for i in 1..=node_count {
            let member = cluster.node_member(&format!("n{i}"))?;
            cluster.nodes.push(member);
        }
        let nodes: Vec<(String, SocketAddr)> = cluster
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.data_addr()))
            .collect();
        cluster.topology = Topology::new(&nodes, "n1");
        for i in 0..node_count {
            cluster.start_member(false, i).await?;
        }
        cluster.server = ServerIdentity::parse(
            &admin::info(cluster.nodes[0].admin_addr(), "server", ADMIN_TIMEOUT).await?,
        );
        crate::cluster::convergence::await_links_up(&cluster, READY_TIMEOUT).await?;
        if cluster.spec.sentinels > 0 {
            cluster.start_sentinels().await?;
        }
        Ok(cluster)
    }

    /// Describes node `name` and writes its config (a replica of `n1` unless it is `n1`).
    fn node_member(&self, name: &str) -> Result<Member> {
        let host = self.network.host(name).context("host of a node")?.clone();
        let dir = self.spec.run_dir.join("nodes").join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let conf = dir.join("redis.conf");
        let master = self.network.host("n1").context("host of n1")?.data;
        let replica_of = (name != "n1").then_some(SocketAddr::from((master, NODE_PORT)));
        let member = Member {
            name: name.to_string(),
            port: NODE_PORT,
            process: self.in_namespace(&host, name, &dir, vec![conf.display().to_string()]),
            host,
            dir,
            conf,
        };
        self.write_node_conf(&member, replica_of)?;
        Ok(member)
    }

    /// Writes a node's config: the local backend's, bound to the node's two addresses.
    pub(super) fn write_node_conf(&self, m: &Member, replica_of: Option<SocketAddr>) -> Result<()> {
        let text = redis_conf::node_conf(&NodeConf {
            port: m.port,
            dir: &m.dir,
            announce: m.data_addr(),
            replica_of,
            options: &self.spec.redis_options,
            include: self.spec.redis_conf.as_deref(),
        });
        let text = bind_to(&text, &m.host)?;
        std::fs::write(&m.conf, text).with_context(|| format!("writing {}", m.conf.display()))
    }

    /// A process started inside `host`'s namespace, working in `dir`.
    fn in_namespace(
        &self,
        host: &Host,
        name: &str,
        dir: &Path,
        args: Vec<String>,
    ) -> ServerProcess {
        let mut full = vec![
            "netns".to_string(),
            "exec".to_string(),
            host.namespace.clone(),
            self.spec.server_bin.display().to_string(),
        ];
        full.extend(args);
        ServerProcess::new(name, Path::new("ip"), full, dir)
    }

    async fn start_sentinels(&mut self) -> Result<()> {
        let master = self.nodes[0].data_addr();
        let quorum = self.spec.sentinels / 2 + 1;
        for i in 1..=self.spec.sentinels {
            let name = format!("s{i}");
            let host = self
                .network
                .host(&name)
                .context("host of a Sentinel")?
                .clone();
            let dir = self.spec.run_dir.join("nodes").join(&name);
            std::fs::create_dir_all(&dir)?;
            let conf = dir.join("sentinel.conf");
            let text = redis_conf::sentinel_conf(&SentinelConf {
                port: SENTINEL_PORT,
                dir: &dir,
                announce: SocketAddr::from((host.data, SENTINEL_PORT)),
                master,
                quorum,
                down_after_ms: self.spec.sentinel_down_after_ms,
                failover_timeout_ms: self.spec.sentinel_failover_timeout_ms,
            });
            std::fs::write(&conf, bind_to(&text, &host)?)?;
            let args = vec![conf.display().to_string(), "--sentinel".to_string()];
            let process = self.in_namespace(&host, &name, &dir, args);
            self.sentinels.push(Member {
                name,
                host,
                port: SENTINEL_PORT,
                dir,
                conf,
                process,
            });
            self.start_member(true, i - 1).await?;
        }
        self.wait_sentinels_ready(READY_TIMEOUT).await?;
        let addrs = self.sentinels.iter().map(Member::data_addr).collect();
        self.topology.use_sentinels(addrs, MASTER_NAME);
        Ok(())
    }

    /// Starts one member's process, records its pid, and waits until it answers PING.
    pub(super) async fn start_member(&mut self, sentinel: bool, idx: usize) -> Result<()> {
        let list = if sentinel {
            &mut self.sentinels
        } else {
            &mut self.nodes
        };
        let m = &mut list[idx];
        m.process.start()?;
        let (addr, name) = (m.admin_addr(), m.name.clone());
        let log = m.dir.join(if sentinel {
            "sentinel.log"
        } else {
            "redis.log"
        });
        self.write_pids();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let list = if sentinel {
                &mut self.sentinels
            } else {
                &mut self.nodes
            };
            if list[idx].process.state() == ProcessState::Dead {
                bail!("{name} exited right after starting; see {}", log.display());
            }
            let ping = redis::cmd("PING");
            if admin::command::<String>(addr, &ping, Duration::from_millis(500))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} ({addr}) did not answer PING within 10 s; see {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every Sentinel knows every replica and every other Sentinel.
    async fn wait_sentinels_ready(&self, timeout: Duration) -> Result<()> {
        let sentinels: Vec<(String, SocketAddr, String)> = self
            .sentinels
            .iter()
            .map(|s| {
                let log = s.dir.join("sentinel.log").display().to_string();
                (s.name.clone(), s.admin_addr(), log)
            })
            .collect();
        crate::cluster::convergence::await_sentinels_ready(&sentinels, self.spec.replicas, timeout)
            .await
    }

    /// Rewrites `pids.json` (the same file as the local backend's, so `redline cleanup` kills
    /// these servers too).
    pub(super) fn write_pids(&self) {
        let processes = self
            .nodes
            .iter()
            .chain(&self.sentinels)
            .filter_map(|m| {
                Some(PidEntry {
                    name: m.name.clone(),
                    pid: m.process.pid()?,
                })
            })
            .collect();
        let file = PidFile {
            harness: std::process::id(),
            processes,
        };
        if let Err(e) = file.write(&self.spec.run_dir) {
            tracing::warn!("could not write the pid file: {e:#}");
        }
    }

    /// Stops every process (Sentinels first, so none fails over while nodes go down), removes
    /// every rule, veth, namespace and the bridge, and the pid and netns files. Idempotent; also
    /// runs on drop. Returns what could not be removed (normally nothing).
    pub fn teardown(&mut self) -> Vec<String> {
        for m in self.sentinels.iter_mut().chain(self.nodes.iter_mut()) {
            let _ = m.process.kill();
        }
        let mut failures = Vec::new();
        if let Err(e) = self.firewall.heal() {
            failures.push(format!("{e:#}"));
        }
        failures.extend(self.network.teardown());
        let _ = std::fs::remove_file(self.spec.run_dir.join(PID_FILE));
        for f in &failures {
            tracing::warn!("netns teardown: {f}");
        }
        failures
    }
}

/// What the harness reads about the cluster; the same names as the local backend's.
impl NetnsCluster {
    /// The client view: nodes at their data addresses (no proxy); Sentinel discovery when enabled.
    pub fn topology(&self) -> Topology {
        self.topology.clone()
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    pub fn sentinel_names(&self) -> Vec<String> {
        self.sentinels.iter().map(|n| n.name.clone()).collect()
    }

    /// The harness's own address of a node or Sentinel: partitions never cut it, so INFO,
    /// REPLICAOF, telemetry and final reads work during and after faults.
    pub fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(Member::admin_addr)
    }

    /// The address clients, replicas and Sentinels use for a node or Sentinel (the local
    /// backend's proxy address plays this part there).
    pub fn client_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(Member::data_addr)
    }

    /// The node at data address `addr` (the addresses Sentinel reports).
    pub fn node_at(&self, addr: SocketAddr) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| n.data_addr() == addr)
            .map(|n| n.name.clone())
    }

    /// Admin addresses of the Sentinels.
    pub fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.sentinels
            .iter()
            .map(|s| (s.name.clone(), s.admin_addr()))
            .collect()
    }

    /// The state of a node's or Sentinel's process.
    pub fn state(&mut self, name: &str) -> Option<ProcessState> {
        self.member_mut(name).map(|m| m.process.state())
    }

    /// The pid of a member's server process, while it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.member(name).and_then(|m| m.process.pid())
    }

    /// Node folders (config, log, data), by name.
    pub fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        self.nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| (m.name.clone(), m.dir.clone()))
            .collect()
    }

    /// The run's tag: every namespace, veth and bridge name starts with it.
    pub fn tag(&self) -> &Tag {
        &self.network.tag
    }

    /// The /24 the run owns.
    pub fn subnet(&self) -> Subnet {
        self.network.subnet
    }

    /// The root namespace's address on the bridge (the `clients` party of a grudge).
    pub fn clients_addr(&self) -> Ipv4Addr {
        self.network.bridge_addr()
    }

    /// Each member's namespace, by member name.
    pub fn namespaces(&self) -> Vec<(String, String)> {
        self.network
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.namespace.clone()))
            .collect()
    }

    /// The directed links cut now.
    pub fn cut_links(&self) -> Vec<(String, String)> {
        self.firewall.cuts().iter().cloned().collect()
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
}

impl Drop for NetnsCluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Replaces the `bind 127.0.0.1` line the shared config writer emits with the member's two
/// addresses (data first), so the server listens only inside its namespace's own addresses.
fn bind_to(text: &str, host: &Host) -> Result<String> {
    let line = "bind 127.0.0.1\n";
    if !text.contains(line) {
        bail!("the generated config has no {line:?} line to rebind");
    }
    Ok(text.replacen(line, &format!("bind {} {}\n", host.data, host.admin), 1))
}
impl crate::cluster::backend::Backend for NetnsCluster {
    fn topology(&self) -> Topology {
        NetnsCluster::topology(self)
    }
    fn node_names(&self) -> Vec<String> {
        NetnsCluster::node_names(self)
    }
    fn sentinel_names(&self) -> Vec<String> {
        NetnsCluster::sentinel_names(self)
    }
    fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        NetnsCluster::admin_addr(self, name)
    }
    fn client_addr(&self, name: &str) -> Option<SocketAddr> {
        NetnsCluster::client_addr(self, name)
    }
    fn node_at(&self, addr: SocketAddr) -> Option<String> {
        NetnsCluster::node_at(self, addr)
    }
    fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        NetnsCluster::sentinel_addrs(self)
    }
    fn state(&mut self, name: &str) -> Option<ProcessState> {
        NetnsCluster::state(self, name)
    }
    fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        NetnsCluster::node_dirs(self)
    }
    fn server(&self) -> &ServerIdentity {
        &self.server
    }
    async fn heal_all(&mut self) -> Result<Vec<String>> {
        NetnsCluster::heal_all(self).await
    }
    fn teardown(&mut self) {
        for left in NetnsCluster::teardown(self) {
            tracing::warn!("netns teardown could not remove {left}");
        }
    }
}
