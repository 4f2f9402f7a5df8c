//! The cluster core: one [`Cluster`] over any [`Transport`]. It owns the members (nodes `n1`..,
//! Sentinels `s1`..), their lookup, the start order, Sentinel setup with its quorum, healing,
//! and the pid file; the transport only says how to start, signal and reach a process, and
//! which link control it has.
//!
//! Life of a cluster: [`Cluster::launch`] asks the transport to lay out the members, writes
//! each node's config and starts it (`start.rs`: start, then poll until the server redline
//! started answers), waits for replication, then does the same for the Sentinels; faults go
//! through the capability traits (`faults.rs`); [`Cluster::teardown`] (also run on drop) stops
//! everything.
//!
//! - `start.rs`: starting one member, and again after a kill.
//! - `sharded.rs`: the cluster-mode launch: every node started, then the cluster formed.
//! - `faults.rs`: `Kill`, `Pause` and `heal_all`, once for every backend.
//! - `view.rs`: the [`Backend`](super::backend::Backend) implementation.

mod faults;
mod sharded;
mod start;
mod view;

use super::admin::{self, ServerIdentity, ADMIN_TIMEOUT};
use super::capabilities::READY_TIMEOUT;
use super::pids::{PidEntry, PidFile, PID_FILE};
use super::redis_conf::{self, SentinelConf, MASTER_NAME};
use super::sharded::{ShardedLayout, Sharding};
use super::transport::{Member, Role, Server, Transport};
use anyhow::{Context, Result};
use redline_workloads::Topology;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub replicas: usize,
    pub sentinels: usize,
    /// The server binary (on the hosts, for the SSH backend).
    pub server_bin: PathBuf,
    /// `--redis-option` pairs, in order; each is checked again when a config is written.
    pub redis_options: Vec<(String, String)>,
    pub redis_conf: Option<PathBuf>,
    /// The run folder; members live in `nodes/<name>/`.
    pub run_dir: PathBuf,
    pub sentinel_down_after_ms: u64,
    pub sentinel_failover_timeout_ms: u64,
    /// `--topology cluster`: a Redis Cluster of this many shards (`replicas` is then per
    /// shard); `None` for the standalone topology (a master, its replicas, Sentinels).
    pub sharding: Option<Sharding>,
    /// Whether the plan may cut or delay links (a partition or delay fault). A backend whose
    /// link control costs something on every byte (the local backend's proxies) leaves it out
    /// when false, and then offers no partitions or delays.
    pub link_faults: bool,
    /// Each node's data dir on a lazy disk (`redline-lazyfs`) with these options, for the
    /// `power-loss` fault and slow disks; `None` (most runs) mounts nothing.
    pub lazy_disk: Option<redline_lazyfs::Options>,
}

impl ClusterSpec {
    /// The number of data nodes: the master and its replicas, or every shard's.
    pub fn node_count(&self) -> usize {
        match &self.sharding {
            Some(s) => s.node_count(),
            None => self.replicas + 1,
        }
    }

    /// Every member's name and role, in start order: `n1` (the first master), the replicas,
    /// then the Sentinels. In cluster mode, shard by shard (see [`Sharding`]).
    pub fn members(&self) -> Vec<(String, Role)> {
        let nodes = (1..=self.node_count()).map(|i| (format!("n{i}"), Role::Node));
        let sentinels = (1..=self.sentinels).map(|i| (format!("s{i}"), Role::Sentinel));
        nodes.chain(sentinels).collect()
    }
}

/// A running cluster on transport `T`. Dropping it stops everything it started.
pub struct Cluster<T: Transport> {
    spec: ClusterSpec,
    transport: T,
    /// Nodes in name order, then Sentinels in name order.
    members: Vec<Member<T::Server>>,
    /// The client view, and the harness's record of which node is the master.
    topology: Topology,
    /// What the servers say they are.
    server: ServerIdentity,
    /// In cluster mode, the shards and the node ids the cluster was formed with.
    sharded: Option<ShardedLayout>,
    torn_down: bool,
}

impl<T: Transport> Cluster<T> {
    /// Starts a master (`n1`), the replicas and the Sentinels on `transport`, and waits until
    /// replication (and Sentinel discovery) is up. `transport` is made once the run folder is
    /// settled (absolute, existing).
    pub(crate) async fn launch(
        mut spec: ClusterSpec,
        transport: impl FnOnce(&ClusterSpec) -> Result<T>,
    ) -> Result<Self> {
        std::fs::create_dir_all(&spec.run_dir)
            .with_context(|| format!("creating {}", spec.run_dir.display()))?;
        spec.run_dir = spec.run_dir.canonicalize()?;
        let transport = transport(&spec)?;
        let mut cluster = Cluster {
            spec,
            transport,
            members: Vec::new(),
            topology: Topology::new(&[], "n1"),
            server: ServerIdentity::default(),
            sharded: None,
            torn_down: false,
        };
        // From here on an error drops the cluster, which tears everything down.
        cluster.members = cluster.transport.members(&cluster.spec).await?;
        // The disks are mounted now: a harness killed from here on leaves them to cleanup.
        cluster.write_pids();
        if let Some(sharding) = cluster.spec.sharding {
            cluster.launch_sharded(sharding).await?;
            return Ok(cluster);
        }
        let nodes: Vec<(String, SocketAddr)> = cluster
            .role_members(Role::Node)
            .map(|m| (m.name.clone(), m.endpoint.client))
            .collect();
        let master = nodes.first().map(|n| n.1).context("a cluster has a node")?;
        cluster.topology = Topology::new(&nodes, "n1");
        for (i, (name, _)) in nodes.iter().enumerate() {
            cluster
                .write_node_conf(name, (i > 0).then_some(master))
                .await?;
            cluster.start_member(name).await?;
        }
        let n1 = cluster.members[0].endpoint.admin;
        cluster.server = ServerIdentity::parse(&admin::info(n1, "server", ADMIN_TIMEOUT).await?);
        super::convergence::await_links_up(&cluster, READY_TIMEOUT).await?;
        cluster.start_sentinels(master).await?;
        Ok(cluster)
    }

    /// Starts every Sentinel, monitoring `master` with a majority quorum, and waits until each
    /// knows the whole cluster; clients then find the master through them.
    async fn start_sentinels(&mut self, master: SocketAddr) -> Result<()> {
        let names: Vec<String> = self.names(Role::Sentinel);
        if names.is_empty() {
            return Ok(());
        }
        let quorum = names.len() / 2 + 1;
        for name in &names {
            let i = self.member_index(name)?;
            let m = &self.members[i];
            let text = redis_conf::sentinel_conf(&SentinelConf {
                port: m.endpoint.port,
                bind: &m.endpoint.bind,
                dir: &m.endpoint.dir,
                announce: m.endpoint.client,
                master,
                quorum,
                down_after_ms: self.spec.sentinel_down_after_ms,
                failover_timeout_ms: self.spec.sentinel_failover_timeout_ms,
            })
            .with_context(|| format!("writing {name}'s config"))?;
            self.transport
                .install_config(&self.members[i], &text)
                .await?;
            self.start_member(name).await?;
        }
        let sentinels: Vec<(String, SocketAddr, String)> = self
            .role_members(Role::Sentinel)
            .map(|s| {
                let log = s.server.location(s.role.log_name());
                (s.name.clone(), s.endpoint.admin, log)
            })
            .collect();
        let replicas = self.names(Role::Node).len() - 1;
        super::convergence::await_sentinels_ready(&sentinels, replicas, READY_TIMEOUT).await?;
        let discovery = self
            .role_members(Role::Sentinel)
            .map(|s| self.transport.sentinel_discovery(s))
            .collect();
        self.topology.use_sentinels(discovery, MASTER_NAME);
        Ok(())
    }

    /// The transport, for what only one backend has (a netns run's tag, say).
    pub(crate) fn transport(&self) -> &T {
        &self.transport
    }

    /// The pid redline started for a member, while it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.member(name).and_then(|m| m.server.pid())
    }

    pub(super) fn member(&self, name: &str) -> Option<&Member<T::Server>> {
        self.members.iter().find(|m| m.name == name)
    }

    fn member_index(&self, name: &str) -> Result<usize> {
        self.members
            .iter()
            .position(|m| m.name == name)
            .with_context(|| {
                let all: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
                format!(
                    "no node or Sentinel named {name:?} (members: {})",
                    all.join(", ")
                )
            })
    }

    fn role_members(&self, role: Role) -> impl Iterator<Item = &Member<T::Server>> {
        self.members.iter().filter(move |m| m.role == role)
    }

    fn names(&self, role: Role) -> Vec<String> {
        self.role_members(role).map(|m| m.name.clone()).collect()
    }

    /// Rewrites `pids.json` with the processes running now, when they run on this machine.
    fn write_pids(&self) {
        if !T::LOCAL_PROCESSES {
            return;
        }
        let processes = self
            .members
            .iter()
            .filter_map(|m| {
                Some(PidEntry {
                    name: m.name.clone(),
                    pid: m.server.pid()?,
                })
            })
            .collect();
        let file = PidFile {
            harness: std::process::id(),
            processes,
            mounts: self
                .transport
                .disks()
                .map(|d| d.mountpoints())
                .unwrap_or_default(),
        };
        if let Err(e) = file.write(&self.spec.run_dir) {
            tracing::warn!("could not write the pid file: {e:#}");
        }
    }

    /// Stops every server and removes everything the backend created, then the pid file.
    /// Idempotent; also runs on drop. Returns what could not be removed (normally nothing).
    pub fn teardown(&mut self) -> Vec<String> {
        if self.torn_down {
            return Vec::new();
        }
        self.torn_down = true;
        let failures = self.transport.teardown(&mut self.members);
        if T::LOCAL_PROCESSES {
            let _ = std::fs::remove_file(self.spec.run_dir.join(PID_FILE));
        }
        for f in &failures {
            tracing::warn!("teardown: {f}");
        }
        failures
    }
}

impl<T: Transport> Drop for Cluster<T> {
    fn drop(&mut self) {
        self.teardown();
    }
}
