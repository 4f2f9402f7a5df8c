//! The local backend: every node and Sentinel is a server process on 127.0.0.1 with its own
//! folder under the run, reached through its own redline proxy.
//!
//! Life of a cluster: [`LocalCluster::start`] writes configs, starts proxies and processes,
//! and waits until every replica's link is up and every Sentinel sees the whole cluster;
//! faults go through the capability traits (see `local_faults.rs`); [`LocalCluster::heal_all`]
//! and [`LocalCluster::converge`] bring it back for the final reads; [`LocalCluster::teardown`]
//! (also run on drop) stops everything.

use super::admin::{self, ServerIdentity, ADMIN_TIMEOUT};
use super::capabilities::READY_TIMEOUT;
use super::links::{LinkTable, Party};
use super::pids::{PidEntry, PidFile, PID_FILE};
use super::process::{ProcessState, ServerProcess};
use super::proxy::{KnownPids, Proxy};
use super::redis_conf::{self, NodeConf, SentinelConf, MASTER_NAME};
use anyhow::{bail, Context, Result};
use redline_workloads::Topology;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub replicas: usize,
    pub sentinels: usize,
    pub server_bin: PathBuf,
    pub redis_options: Vec<(String, String)>,
    pub redis_conf: Option<PathBuf>,
    /// The run folder; nodes live in `nodes/<name>/`.
    pub run_dir: PathBuf,
    pub sentinel_down_after_ms: u64,
    pub sentinel_failover_timeout_ms: u64,
}

/// A node or a Sentinel of the cluster.
pub(super) struct Member {
    pub(super) name: String,
    pub(super) party: Party,
    /// The real port (admin commands go here, bypassing the proxy).
    pub(super) port: u16,
    pub(super) proxy: Proxy,
    pub(super) dir: PathBuf,
    pub(super) conf: PathBuf,
    pub(super) process: ServerProcess,
}

impl Member {
    pub(super) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// A running local cluster. Dropping it stops every process it started.
pub struct LocalCluster {
    pub(super) spec: ClusterSpec,
    pub(super) nodes: Vec<Member>,
    pub(super) sentinels: Vec<Member>,
    pub(super) links: Arc<LinkTable>,
    pub(super) known: KnownPids,
    /// The client view, and the harness's record of which node is the master.
    pub(super) topology: Topology,
    /// What the servers say they are.
    pub server: ServerIdentity,
}

impl LocalCluster {
    /// Starts a master (`n1`), `spec.replicas` replicas and `spec.sentinels` Sentinels, and
    /// waits until replication is up everywhere.
    pub async fn start(spec: ClusterSpec) -> Result<LocalCluster> {
        let links = Arc::new(LinkTable::default());
        let known = KnownPids::default();
        let mut nodes = Vec::new();
        let node_count = spec.replicas + 1;
        let listeners: Vec<TcpListener> = (0..node_count + spec.sentinels)
            .map(|_| TcpListener::bind("127.0.0.1:0").context("binding a proxy port on 127.0.0.1"))
            .collect::<Result<_>>()?;
        let mut listeners = listeners.into_iter();
        let mut master_proxy = None;
        for i in 0..node_count {
            let name = format!("n{}", i + 1);
            let listener = listeners.next().context("proxy listener")?;
            let proxy_addr = listener.local_addr()?;
            let port = free_port()?;
            let dir = spec.run_dir.join("nodes").join(&name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let conf = dir.join("redis.conf");
            let text = redis_conf::node_conf(&NodeConf {
                port,
                dir: &dir,
                announce: proxy_addr,
                replica_of: master_proxy,
                options: &spec.redis_options,
                include: spec.redis_conf.as_deref(),
            });
            std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
            let party = Party::Node(name.clone());
            let proxy = Proxy::start(
                listener,
                party.clone(),
                ([127, 0, 0, 1], port).into(),
                links.clone(),
                known.clone(),
            )?;
            let process = ServerProcess::new(
                &name,
                &spec.server_bin,
                vec![conf.display().to_string()],
                &dir,
            );
            master_proxy.get_or_insert(proxy_addr);
            nodes.push(Member {
                name,
                party,
                port,
                proxy,
                dir,
                conf,
                process,
            });
        }
        let topology = Topology::new(
            &nodes
                .iter()
                .map(|m| (m.name.clone(), m.proxy.listen))
                .collect::<Vec<_>>(),
            "n1",
        );
        let mut cluster = LocalCluster {
            spec,
            nodes,
            sentinels: Vec::new(),
            links,
            known,
            topology,
            server: ServerIdentity::default(),
        };
        for i in 0..cluster.nodes.len() {
            cluster.start_member(false, i).await?;
        }
        cluster.server = ServerIdentity::parse(
            &admin::info(cluster.nodes[0].addr(), "server", ADMIN_TIMEOUT).await?,
        );
        crate::cluster::convergence::await_links_up(&cluster, READY_TIMEOUT).await?;
        if cluster.spec.sentinels > 0 {
            cluster.start_sentinels(listeners.collect()).await?;
        }
        Ok(cluster)
    }

    async fn start_sentinels(&mut self, listeners: Vec<TcpListener>) -> Result<()> {
        let master = self.nodes[0].proxy.listen;
        let quorum = self.spec.sentinels / 2 + 1;
        for (i, listener) in listeners.into_iter().enumerate() {
            let name = format!("s{}", i + 1);
            let announce = listener.local_addr()?;
            let port = free_port()?;
            let dir = self.spec.run_dir.join("nodes").join(&name);
            std::fs::create_dir_all(&dir)?;
            let conf = dir.join("sentinel.conf");
            let text = redis_conf::sentinel_conf(&SentinelConf {
                port,
                dir: &dir,
                announce,
                master,
                quorum,
                down_after_ms: self.spec.sentinel_down_after_ms,
                failover_timeout_ms: self.spec.sentinel_failover_timeout_ms,
            });
            std::fs::write(&conf, text)?;
            let party = Party::Sentinel(name.clone());
            let proxy = Proxy::start(
                listener,
                party.clone(),
                ([127, 0, 0, 1], port).into(),
                self.links.clone(),
                self.known.clone(),
            )?;
            let args = vec![conf.display().to_string(), "--sentinel".to_string()];
            let process = ServerProcess::new(&name, &self.spec.server_bin, args, &dir);
            self.sentinels.push(Member {
                name,
                party,
                port,
                proxy,
                dir,
                conf,
                process,
            });
            let idx = self.sentinels.len() - 1;
            self.start_member(true, idx).await?;
        }
        self.wait_sentinels_ready(READY_TIMEOUT).await?;
        let sentinel_addrs = self.sentinels.iter().map(|s| s.addr()).collect();
        self.topology.use_sentinels(sentinel_addrs, MASTER_NAME);
        Ok(())
    }

    /// Starts one member's process, waits until it answers INFO with its own pid, and records
    /// the pid.
    pub(super) async fn start_member(&mut self, sentinel: bool, idx: usize) -> Result<()> {
        let m = if sentinel {
            &mut self.sentinels[idx]
        } else {
            &mut self.nodes[idx]
        };
        let pid = m.process.start()?;
        let (addr, name, party) = (m.addr(), m.name.clone(), m.party.clone());
        let log = m.dir.join(if sentinel {
            "sentinel.log"
        } else {
            "redis.log"
        });
        if let Ok(mut k) = self.known.write() {
            k.insert(pid, party);
        }
        self.write_pids();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = if sentinel {
                &mut self.sentinels[idx]
            } else {
                &mut self.nodes[idx]
            };
            if m.process.state() == ProcessState::Dead {
                bail!("{name} exited right after starting; {}", log_hint(&log));
            }
            // Whoever answers must be our process: another program may hold the port.
            if let Ok(info) = admin::info(addr, "server", Duration::from_millis(500)).await {
                if info.get("process_id").and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
                    return Ok(());
                }
                bail!(
                    "port {} of {name} is answered by another process (pid {}), not the server \
                     redline started; is another Redis listening there?",
                    addr.port(),
                    info.get("process_id").map(String::as_str).unwrap_or("?")
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} (port {}) did not answer PING within 10 s; {}",
                    addr.port(),
                    log_hint(&log)
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
                (s.name.clone(), s.addr(), log)
            })
            .collect();
        super::convergence::await_sentinels_ready(&sentinels, self.spec.replicas, timeout).await
    }

    /// The client view of the cluster (proxy addresses; Sentinel discovery when enabled).
    pub fn topology(&self) -> Topology {
        self.topology.clone()
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    pub fn sentinel_names(&self) -> Vec<String> {
        self.sentinels.iter().map(|n| n.name.clone()).collect()
    }

    /// Real (admin) address of a node or Sentinel.
    pub fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(Member::addr)
    }

    /// Proxy address of a node or Sentinel.
    pub fn proxy_addr(&self, name: &str) -> Option<SocketAddr> {
        self.member(name).map(|m| m.proxy.listen)
    }

    /// The node whose proxy listens at `addr` (addresses Sentinel reports are proxy addresses).
    pub fn node_at_proxy(&self, addr: SocketAddr) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| n.proxy.listen == addr)
            .map(|n| n.name.clone())
    }

    /// Admin addresses of the Sentinels.
    pub fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.sentinels
            .iter()
            .map(|s| (s.name.clone(), s.addr()))
            .collect()
    }

    /// The state of a node's process.
    pub fn state(&mut self, name: &str) -> Option<ProcessState> {
        self.member_mut(name).map(|m| m.process.state())
    }

    /// Node folders (config, log, data), by name.
    pub fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        self.nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| (m.name.clone(), m.dir.clone()))
            .collect()
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

    pub(super) fn node_index(&self, name: &str) -> Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .with_context(|| {
                format!(
                    "no node named {name:?} (nodes: {})",
                    self.node_names().join(", ")
                )
            })
    }

    /// Rewrites `pids.json` with the processes running now.
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

    /// Stops every process (Sentinels first, so none fails over while nodes go down) and removes
    /// the pid file. Idempotent; also runs on drop.
    pub fn teardown(&mut self) {
        for m in self.sentinels.iter_mut().chain(self.nodes.iter_mut()) {
            let _ = m.process.kill();
        }
        if let Ok(mut k) = self.known.write() {
            k.clear();
        }
        let _ = std::fs::remove_file(self.spec.run_dir.join(PID_FILE));
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.teardown();
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
    use rand::Rng;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    static RECENT: Mutex<VecDeque<u16>> = Mutex::new(VecDeque::new());
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = rand::thread_rng();
    for _ in 0..500 {
        let port = rng.gen_range(20_000..32_000);
        if !recent.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            if recent.len() >= 4096 {
                recent.pop_front();
            }
            recent.push_back(port);
            return Ok(port);
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// The last lines of a server log, for an error message.
fn log_hint(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if tail.iter().any(|l| l.contains("Address already in use")) {
        return format!(
            "its port is in use by another process (log: {})",
            log.display()
        );
    }
    if tail.is_empty() {
        format!("no log at {}", log.display())
    } else {
        format!("log {} ends with:\n  {}", log.display(), tail.join("\n  "))
    }
}

impl super::backend::Backend for LocalCluster {
    fn topology(&self) -> Topology {
        LocalCluster::topology(self)
    }
    fn node_names(&self) -> Vec<String> {
        LocalCluster::node_names(self)
    }
    fn sentinel_names(&self) -> Vec<String> {
        LocalCluster::sentinel_names(self)
    }
    fn admin_addr(&self, name: &str) -> Option<SocketAddr> {
        LocalCluster::admin_addr(self, name)
    }
    /// Everyone reaches a node through its proxy.
    fn client_addr(&self, name: &str) -> Option<SocketAddr> {
        self.proxy_addr(name)
    }
    fn node_at(&self, addr: SocketAddr) -> Option<String> {
        self.node_at_proxy(addr)
    }
    fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)> {
        LocalCluster::sentinel_addrs(self)
    }
    fn state(&mut self, name: &str) -> Option<ProcessState> {
        LocalCluster::state(self, name)
    }
    fn node_dirs(&self) -> Vec<(String, PathBuf)> {
        LocalCluster::node_dirs(self)
    }
    fn server(&self) -> &ServerIdentity {
        &self.server
    }
    async fn heal_all(&mut self) -> Result<Vec<String>> {
        LocalCluster::heal_all(self).await
    }
    fn teardown(&mut self) {
        LocalCluster::teardown(self)
    }
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
}
