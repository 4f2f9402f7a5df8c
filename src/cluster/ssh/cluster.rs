//! The SSH backend: every node and Sentinel is a server process on a host of its own, which
//! redline drives over SSH as Jepsen drives its nodes. Clients, replicas and Sentinels reach the
//! servers at the hosts' addresses; the harness's own commands (INFO, REPLICAOF, telemetry,
//! final reads) go through an SSH port forward to each host's loopback, which partitions never
//! cut (they spare the SSH port).
//!
//! Life of a cluster: [`SshCluster::start`] writes `ssh.json` (so a killed run can be cleaned
//! up), connects one session per host, checks the server binary, removes what earlier runs left
//! (heal on setup), uploads configs, starts the servers and waits for replication and
//! Sentinels; faults go through the capability traits (`faults.rs`); [`SshCluster::teardown`]
//! (also run on drop) stops every server, lifts every rule, pulls the logs into the run folder
//! and removes the remote folders.

use super::hosts::{HostLayout, HostSpec};
use super::record::SshRecord;
use super::remote::{Remote, SshLogin};
use super::scripts;
use crate::cluster::admin::{self, ServerIdentity, ADMIN_TIMEOUT};
use crate::cluster::capabilities::READY_TIMEOUT;
use crate::cluster::netns::Tag;
use crate::cluster::process::ProcessState;
use crate::cluster::redis_conf::{self, NodeConf, SentinelConf, MASTER_NAME};
use crate::cluster::ClusterSpec;
use anyhow::{bail, Context, Result};
use redline_workloads::Topology;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The port every node listens on (one member per host).
pub const NODE_PORT: u16 = 6379;
/// The port every Sentinel listens on.
pub const SENTINEL_PORT: u16 = 26379;
/// Where run folders go on the hosts unless `--remote-dir` says otherwise.
pub const DEFAULT_REMOTE_DIR: &str = "/tmp/redline";

/// What the SSH backend needs beyond the [`ClusterSpec`] (whose `server_bin` is the path on the
/// hosts).
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub layout: HostLayout,
    pub login: SshLogin,
    /// The folder on the hosts under which each run gets `<tag>/<member>/`.
    pub remote_dir: String,
}

/// A node or a Sentinel on its host.
pub(super) struct Member {
    pub(super) name: String,
    pub(super) sentinel: bool,
    pub(super) addr: Ipv4Addr,
    pub(super) port: u16,
    pub(super) remote: Remote,
    /// The member's folder on its host.
    pub(super) dir: String,
    /// The member's folder in the run folder (config copy, pulled logs).
    pub(super) local_dir: PathBuf,
    /// The local end of the SSH forward to the server's loopback port.
    pub(super) admin: SocketAddr,
    pub(super) pid: Option<u32>,
    pub(super) state: ProcessState,
}

impl Member {
    pub(super) fn data_addr(&self) -> SocketAddr {
        SocketAddr::from((self.addr, self.port))
    }

    pub(super) fn conf_name(&self) -> &'static str {
        if self.sentinel {
            "sentinel.conf"
        } else {
            "redis.conf"
        }
    }

    pub(super) fn log_name(&self) -> &'static str {
        if self.sentinel {
            "sentinel.log"
        } else {
            "redis.log"
        }
    }
}

/// A running cluster on SSH hosts. Dropping it stops every server and removes every rule and
/// remote folder it created.
pub struct SshCluster {
    pub(super) spec: ClusterSpec,
    pub(super) options: SshOptions,
    pub(super) tag: Tag,
    pub(super) nodes: Vec<Member>,
    pub(super) sentinels: Vec<Member>,
    pub(super) topology: Topology,
    /// The harness's address as the hosts see it (the `clients` party).
    pub(super) harness: Ipv4Addr,
    /// Directed links cut now, and the members whose hosts hold a table.
    pub(super) cuts: BTreeSet<(String, String)>,
    pub(super) installed: BTreeSet<String>,
    pub(super) record: PathBuf,
    pub(super) control_dir: PathBuf,
    torn_down: bool,
    /// What the servers say they are.
    pub server: ServerIdentity,
}

impl SshCluster {
    /// Starts the master (`n1`), the replicas and the Sentinels `options.layout` names, each on
    /// its host, and waits until replication (and Sentinel discovery) is up.
    pub async fn start(mut spec: ClusterSpec, options: SshOptions) -> Result<SshCluster> {
        std::fs::create_dir_all(&spec.run_dir)
            .with_context(|| format!("creating {}", spec.run_dir.display()))?;
        spec.run_dir = spec.run_dir.canonicalize()?;
        spec.replicas = options.layout.nodes.len() - 1;
        spec.sentinels = options.layout.sentinels.len();
        let tag = Tag::generate();
        // A short path: the control sockets live here, and a socket path has at most 107 bytes.
        let control_dir = std::env::temp_dir().join(format!("redline-ssh-{}", tag.hex()));
        std::fs::create_dir_all(&control_dir)
            .with_context(|| format!("creating {}", control_dir.display()))?;
        let record = SshRecord {
            harness: std::process::id(),
            tag: tag.clone(),
            login: options.login.clone(),
            remote_dir: options.remote_dir.clone(),
            layout: options.layout.clone(),
            control_dir: control_dir.clone(),
        };
        let record_path = record.write(&spec.run_dir)?;
        let mut cluster = SshCluster {
            spec,
            tag,
            nodes: Vec::new(),
            sentinels: Vec::new(),
            topology: Topology::new(&[], "n1"),
            harness: Ipv4Addr::UNSPECIFIED,
            cuts: BTreeSet::new(),
            installed: BTreeSet::new(),
            record: record_path,
            control_dir,
            torn_down: false,
            server: ServerIdentity::default(),
            options,
        };
        // From here on an error drops the cluster, which tears everything down.
        cluster.connect_all().await?;
        let nodes: Vec<(String, SocketAddr)> = cluster
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.data_addr()))
            .collect();
        cluster.topology = Topology::new(&nodes, "n1");
        let master = cluster.nodes[0].data_addr();
        for i in 0..cluster.nodes.len() {
            let replica_of = (i > 0).then_some(master);
            cluster.upload_node_conf(i, replica_of).await?;
            cluster.start_member(false, i).await?;
        }
        cluster.server = ServerIdentity::parse(
            &admin::info(cluster.nodes[0].admin, "server", ADMIN_TIMEOUT).await?,
        );
        crate::cluster::convergence::await_links_up(&cluster, READY_TIMEOUT).await?;
        if !cluster.sentinels.is_empty() {
            cluster.start_sentinels().await?;
        }
        Ok(cluster)
    }

    /// One session per host, in parallel: connect, check the tools, sweep what earlier runs
    /// left, make the member's folder, forward the admin port.
    async fn connect_all(&mut self) -> Result<()> {
        let specs: Vec<HostSpec> = self.options.layout.members().cloned().collect();
        let futures = specs.iter().map(|spec| self.prepare_member(spec));
        let members = futures_util::future::join_all(futures).await;
        let mut errors = Vec::new();
        for member in members {
            match member {
                Ok(m) if m.sentinel => self.sentinels.push(m),
                Ok(m) => self.nodes.push(m),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            bail!("setting up the hosts failed:\n  {}", errors.join("\n  "));
        }
        self.nodes.sort_by_key(|m| member_number(&m.name));
        self.sentinels.sort_by_key(|m| member_number(&m.name));
        self.harness = self.nodes[0].remote.harness_addr().await?;
        Ok(())
    }

    async fn prepare_member(&self, spec: &HostSpec) -> Result<Member> {
        let remote = Remote::connect(spec, &self.options.login, &self.control_dir).await?;
        let bin = self.spec.server_bin.display().to_string();
        let tools = remote.run(&scripts::preflight(&bin)).await?;
        if !tools.contains("nft") {
            tracing::warn!(
                "{}: nft is missing on {}; partitions will fail there (apt-get install -y nftables)",
                spec.name,
                remote.label
            );
        }
        let swept = remote
            .run(&scripts::sweep(
                &self.options.remote_dir,
                scripts::ANY_RUN,
                scripts::ANY_REDLINE_TABLE,
                self.tag.as_str(),
            ))
            .await?;
        for line in swept.lines() {
            tracing::warn!("{}: left by an earlier run, now gone: {line}", spec.name);
        }
        let addr = resolve(&spec.host).await?;
        let sentinel = spec.is_sentinel();
        let dir = format!("{}/{}/{}", self.options.remote_dir, self.tag, spec.name);
        remote.run(&scripts::make_dir(&dir)).await?;
        let port = if sentinel { SENTINEL_PORT } else { NODE_PORT };
        let admin = remote.forward(port).await?;
        let local_dir = self.spec.run_dir.join("nodes").join(&spec.name);
        std::fs::create_dir_all(&local_dir)
            .with_context(|| format!("creating {}", local_dir.display()))?;
        Ok(Member {
            name: spec.name.clone(),
            sentinel,
            addr,
            port,
            remote,
            dir,
            local_dir,
            admin,
            pid: None,
            state: ProcessState::Dead,
        })
    }

    /// Renders node `idx`'s config (replica of `replica_of`, or master) and uploads it.
    pub(super) async fn upload_node_conf(
        &self,
        idx: usize,
        replica_of: Option<SocketAddr>,
    ) -> Result<()> {
        let m = &self.nodes[idx];
        let include = match &self.spec.redis_conf {
            Some(local) => {
                let text = std::fs::read(local)
                    .with_context(|| format!("reading --redis-conf {}", local.display()))?;
                let remote = format!("{}/include.conf", m.dir);
                m.remote
                    .run_with_input(&scripts::write_file(&remote), &text)
                    .await?;
                Some(PathBuf::from(remote))
            }
            None => None,
        };
        let text = redis_conf::node_conf(&NodeConf {
            port: m.port,
            dir: Path::new(&m.dir),
            announce: m.data_addr(),
            replica_of,
            options: &self.spec.redis_options,
            include: include.as_deref(),
        });
        self.upload_conf(m, &text).await
    }

    async fn upload_conf(&self, m: &Member, text: &str) -> Result<()> {
        let text = bind_to(text, m.addr)?;
        std::fs::write(m.local_dir.join(m.conf_name()), &text)
            .with_context(|| format!("writing {}'s config copy", m.name))?;
        let path = format!("{}/{}", m.dir, m.conf_name());
        m.remote
            .run_with_input(&scripts::write_file(&path), text.as_bytes())
            .await?;
        Ok(())
    }

    async fn start_sentinels(&mut self) -> Result<()> {
        let master = self.nodes[0].data_addr();
        let quorum = self.sentinels.len() / 2 + 1;
        for i in 0..self.sentinels.len() {
            let m = &self.sentinels[i];
            let text = redis_conf::sentinel_conf(&SentinelConf {
                port: SENTINEL_PORT,
                dir: Path::new(&m.dir),
                announce: m.data_addr(),
                master,
                quorum,
                down_after_ms: self.spec.sentinel_down_after_ms,
                failover_timeout_ms: self.spec.sentinel_failover_timeout_ms,
            });
            self.upload_conf(m, &text).await?;
            self.start_member(true, i).await?;
        }
        self.wait_sentinels_ready(READY_TIMEOUT).await?;
        let addrs = self.sentinels.iter().map(Member::data_addr).collect();
        self.topology.use_sentinels(addrs, MASTER_NAME);
        Ok(())
    }

    /// Starts one member's server and waits until it answers PING through the forward.
    pub(super) async fn start_member(&mut self, sentinel: bool, idx: usize) -> Result<()> {
        let bin = self.spec.server_bin.display().to_string();
        let list = if sentinel {
            &mut self.sentinels
        } else {
            &mut self.nodes
        };
        let m = &mut list[idx];
        let conf = format!("{}/{}", m.dir, m.conf_name());
        let mut args = vec![conf.as_str()];
        if sentinel {
            args.push("--sentinel");
        }
        let out = m.remote.run(&scripts::start(&m.dir, &bin, &args)).await?;
        let pid: u32 = out.trim().parse().with_context(|| {
            format!(
                "starting {} on {}: no pid in {out:?}",
                m.name, m.remote.label
            )
        })?;
        m.pid = Some(pid);
        m.state = ProcessState::Running;
        let m = &list[idx];
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Whoever answers must be our process: another server may hold the port.
            if let Ok(info) = admin::info(m.admin, "server", Duration::from_millis(500)).await {
                let answered = info.get("process_id").and_then(|p| p.parse::<u32>().ok());
                if answered == Some(pid) {
                    return Ok(());
                }
                if let Some(other) = answered {
                    bail!(
                        "{} on {}: port {} is held by another server (pid {other}), not the one redline started (pid {pid}); stop it or free the port",
                        m.name, m.remote.label, m.port
                    );
                }
            }
            let state = m.remote.run(&scripts::probe(&m.dir, pid)).await?;
            if state.trim() == "dead" || Instant::now() > deadline {
                let log = format!("{}/{}", m.dir, m.log_name());
                let stdout = format!("{}/stdout.log", m.dir);
                let tail = m
                    .remote
                    .run(&format!(
                        "{}{}",
                        scripts::tail(&log, 15),
                        scripts::tail(&stdout, 5)
                    ))
                    .await
                    .unwrap_or_default();
                bail!(
                    "{} on {} {} (port {} in use, or a bad option?); the end of its log:\n{}",
                    m.name,
                    m.remote.label,
                    if state.trim() == "dead" {
                        "exited right after starting"
                    } else {
                        "did not answer PING within 10 s"
                    },
                    m.port,
                    tail.trim_end()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every Sentinel knows every replica and every other Sentinel.
    async fn wait_sentinels_ready(&self, timeout: Duration) -> Result<()> {
        let sentinels: Vec<(String, SocketAddr, String)> = self
            .sentinels
            .iter()
            .map(|s| {
                let log = format!("{} on {}", s.log_name(), s.remote.label);
                (s.name.clone(), s.admin, log)
            })
            .collect();
        crate::cluster::convergence::await_sentinels_ready(&sentinels, self.spec.replicas, timeout)
            .await
    }

    /// Stops every server (Sentinels first), lifts every rule, pulls the logs into the run
    /// folder, removes the remote folders and closes the sessions. Idempotent; also runs on
    /// drop. Returns what could not be done (normally nothing).
    pub fn teardown(&mut self) -> Vec<String> {
        if self.torn_down {
            return Vec::new();
        }
        self.torn_down = true;
        // Teardown must work from synchronous code (drop, the signal path), with or without a
        // runtime around: run the remote commands on a runtime of their own.
        let failures = std::thread::scope(|s| {
            s.spawn(|| {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(self.teardown_remote()),
                    Err(e) => vec![format!("starting a runtime for teardown: {e}")],
                }
            })
            .join()
            .unwrap_or_else(|_| vec!["the teardown thread panicked".to_string()])
        });
        // Closing the sessions ends their control masters (`ssh -O exit`).
        self.sentinels.clear();
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.control_dir);
        if failures.is_empty() {
            let _ = std::fs::remove_file(&self.record);
        }
        for f in &failures {
            tracing::warn!("ssh teardown: {f}");
        }
        failures
    }

    async fn teardown_remote(&self) -> Vec<String> {
        let table = &self.tag.table();
        let members = self.sentinels.iter().chain(&self.nodes);
        let work = members.map(|m| async move {
            let mut failures = Vec::new();
            if let Some(pid) = m.pid {
                if let Err(e) = m.remote.run(&scripts::signal(&m.dir, pid, "KILL")).await {
                    failures.push(format!("{e:#}"));
                }
            }
            if let Err(e) = m.remote.run(&scripts::nft_delete(table)).await {
                failures.push(format!("{e:#}"));
            }
            for file in [m.log_name(), "stdout.log"] {
                match m
                    .remote
                    .run(&scripts::cat(&format!("{}/{file}", m.dir)))
                    .await
                {
                    Ok(text) if !text.is_empty() => {
                        let _ = std::fs::write(m.local_dir.join(file), text);
                    }
                    Ok(_) => {}
                    Err(e) => failures.push(format!("{e:#}")),
                }
            }
            let run_dir = format!("{}/{}", self.options.remote_dir, self.tag);
            if let Err(e) = m.remote.run(&scripts::remove_dir(&m.dir, &run_dir)).await {
                failures.push(format!("{e:#}"));
            }
            failures
        });
        futures_util::future::join_all(work)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// What the harness reads about the cluster; the same names as the other backends'.
impl SshCluster {
    pub fn topology(&self) -> Topology {
        self.topology.clone()
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    pub fn sentinel_names(&self) -> Vec<String> {
        self.sentinels.iter().map(|n| n.name.clone()).collect()
    }

    /// The local end of the SSH forward to the member's server: partitions never cut it.
    pub fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(|m| m.admin)
    }

    /// The member's address on its host, which clients, replicas and Sentinels use.
    pub fn client_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(Member::data_addr)
    }

    pub fn node_at(&self, addr: SocketAddr) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| n.data_addr() == addr)
            .map(|n| n.name.clone())
    }

    pub fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.sentinels
            .iter()
            .map(|s| (s.name.clone(), s.admin))
            .collect()
    }

    /// The state redline last gave or saw the member's server in (`heal_all` asks the hosts).
    pub fn state(&self, name: &str) -> Option<ProcessState> {
        self.member(name).map(|m| m.state)
    }

    /// Local member folders: the config redline uploaded and, after teardown, the logs.
    pub fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        self.nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| (m.name.clone(), m.local_dir.clone()))
            .collect()
    }

    /// The run's tag (remote folder `<remote-dir>/<tag>`, nftables table `redline_<hex>`).
    pub fn tag(&self) -> &Tag {
        &self.tag
    }

    /// The pid of a member's server on its host, while redline believes it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.member(name).and_then(|m| m.pid)
    }

    /// The directed links cut now.
    pub fn cut_links(&self) -> Vec<(String, String)> {
        self.cuts.iter().cloned().collect()
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

impl Drop for SshCluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The IPv4 address `host` resolves to here (the servers bind to it on their host, and the
/// firewall rules match it).
async fn resolve(host: &str) -> Result<Ipv4Addr> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    let addrs = tokio::net::lookup_host((host, 0))
        .await
        .with_context(|| format!("resolving host {host:?}"))?;
    addrs
        .filter_map(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
        .next()
        .with_context(|| {
            format!("host {host:?} has no IPv4 address (firewall partitions are IPv4 rules)")
        })
}

fn member_number(name: &str) -> u64 {
    name[1..].parse().unwrap_or(u64::MAX)
}

/// Replaces the `bind 127.0.0.1` line of a generated config with the host's address and its
/// loopback (where the harness's SSH forward arrives).
fn bind_to(text: &str, addr: Ipv4Addr) -> Result<String> {
    let line = "bind 127.0.0.1\n";
    if !text.contains(line) {
        bail!("the generated config has no {line:?} line to rebind");
    }
    Ok(text.replacen(line, &format!("bind {addr} 127.0.0.1\n"), 1))
}
