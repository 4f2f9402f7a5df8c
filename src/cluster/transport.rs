//! What a backend provides to the cluster core: its members laid out on their hosts, a way to
//! start and signal each member's server ([`Server`]), a way to put a config where the server
//! reads it, the link control it has (partitions, delays), and the nodes' lazy disks when a
//! run asked for them. Everything else (start order,
//! the start-and-poll loop, Sentinel setup, healing, pid files) is the core's, once for every
//! backend.

use super::capabilities::{Capabilities, LinkDelay, Partition};
use super::core::ClusterSpec;
use super::disks::Disks;
use super::process::ProcessState;
use anyhow::Result;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Whether a member is a data node (`n1`..) or a Sentinel (`s1`..).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Node,
    Sentinel,
}

impl Role {
    /// The config file's name in the member's folder.
    pub fn conf_name(self) -> &'static str {
        match self {
            Role::Node => "redis.conf",
            Role::Sentinel => "sentinel.conf",
        }
    }

    /// The server log's name in the member's folder.
    pub fn log_name(self) -> &'static str {
        match self {
            Role::Node => "redis.log",
            Role::Sentinel => "sentinel.log",
        }
    }
}

/// Where a member lives and how it is reached, as its backend laid it out.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where the harness's own commands go (INFO, REPLICAOF, final reads); no fault cuts it.
    pub admin: SocketAddr,
    /// Where clients, replicas and Sentinels reach the member; what faults act on.
    pub client: SocketAddr,
    /// The port the server listens on, on its host.
    pub port: u16,
    /// The addresses the server binds, on its host.
    pub bind: Vec<IpAddr>,
    /// The member's folder on its host: the server's working folder and its `dir`.
    pub dir: PathBuf,
    /// The member's folder in the run folder (configs, and logs once they are there).
    pub local_dir: PathBuf,
}

impl Endpoint {
    /// The member's config file on its host.
    pub fn conf(&self, role: Role) -> PathBuf {
        self.dir.join(role.conf_name())
    }
}

/// A node or a Sentinel, with its server.
pub struct Member<S> {
    pub name: String,
    pub role: Role,
    pub endpoint: Endpoint,
    pub server: S,
}

/// A signal for a member's server and every process it forked: redline starts each server as
/// the leader of a process group of its own, and signals the group, so a `--server-bin` wrapper
/// that runs the server without `exec` is covered too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGKILL, and wait until it is gone.
    Kill,
    /// SIGSTOP.
    Stop,
    /// SIGCONT.
    Cont,
}

/// A member's server process, wherever it runs.
#[allow(async_fn_in_trait)]
pub trait Server {
    /// Starts the server in the member's folder, leading a process group of its own; returns
    /// its pid. Refused while it runs.
    async fn start(&mut self) -> Result<u32>;
    /// Sends `signal` to the server's process group. After `Kill` the server is dead.
    async fn signal(&mut self, signal: Signal) -> Result<()>;
    /// The pid redline started, while it runs.
    fn pid(&self) -> Option<u32>;
    /// The state as known here, without asking a remote host.
    fn state(&mut self) -> ProcessState;
    /// The state, asking the host when it has to.
    async fn refresh(&mut self) -> Result<ProcessState>;
    /// Whether `pid` belongs to the process group redline started (a server that a wrapper
    /// script forked rather than exec'd).
    async fn in_group(&self, pid: u32) -> bool;
    /// The ends of the server's log file `log` and of what it printed on stdout and stderr,
    /// for an error message (a server that refuses its config says why on stderr only).
    async fn output_tail(&self, log: &str) -> ServerOutput;
    /// Where the member's file `file` is, for a message (a path, or a path on a host).
    fn location(&self, file: &str) -> String;
}

/// The last lines a server wrote, for an error message.
#[derive(Debug, Clone, Default)]
pub struct ServerOutput {
    pub log: String,
    pub stderr: String,
    /// Where the log is.
    pub log_location: String,
}

impl ServerOutput {
    /// A sentence for an error: the server's own words when it left any.
    pub fn explain(&self) -> String {
        let text = format!("{}\n{}", self.log, self.stderr);
        if text.contains("Address already in use") {
            return format!(
                "its port is in use by another process (log: {})",
                self.log_location
            );
        }
        let mut parts = Vec::new();
        if !self.stderr.trim().is_empty() {
            parts.push(format!("it printed:\n  {}", indent(&self.stderr)));
        }
        if !self.log.trim().is_empty() {
            parts.push(format!(
                "its log {} ends with:\n  {}",
                self.log_location,
                indent(&self.log)
            ));
        }
        if parts.is_empty() {
            return format!("it left no output (log: {})", self.log_location);
        }
        parts.join("\n")
    }
}

fn indent(text: &str) -> String {
    text.trim().lines().collect::<Vec<_>>().join("\n  ")
}

/// The last `lines` lines of `text`.
pub fn last_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How a backend runs and reaches its members, and what link control it has.
#[allow(async_fn_in_trait)]
pub trait Transport {
    type Server: Server;
    /// What this kind of backend can do on this machine, known before any cluster exists; it
    /// says the same as [`Transport::partition`] and [`Transport::link_delay`] do, and whether
    /// [`Transport::disks`] can be had (`ClusterSpec::lazy_disk`).
    fn capabilities() -> Capabilities;
    /// Whether the servers run on this machine: their pids then go into `pids.json`, which
    /// `redline cleanup` reads after a harness was killed.
    const LOCAL_PROCESSES: bool;

    /// Lays out every member, nodes (`n1`..) then Sentinels (`s1`..), in name order, with
    /// their folders made and their hosts ready; nothing runs yet.
    async fn members(&mut self, spec: &ClusterSpec) -> Result<Vec<Member<Self::Server>>>;

    /// Puts a member's config where its server reads it ([`Endpoint::conf`]), readable by its
    /// owner only (it may hold passwords).
    async fn install_config(&mut self, member: &Member<Self::Server>, text: &str) -> Result<()> {
        let path = member.endpoint.local_dir.join(member.role.conf_name());
        super::redis_conf::write_private(&path, text)
    }

    /// Where a node's config includes `--redis-conf` `file` from, on the member's host.
    async fn include(&mut self, _member: &Member<Self::Server>, file: &Path) -> Result<PathBuf> {
        Ok(file.to_path_buf())
    }

    /// The member's server runs as `pid` (the process redline started, or the server it forked).
    fn running(&mut self, _member: &Member<Self::Server>, _pid: u32) {}

    /// The member's server was killed.
    fn stopped(&mut self, _member: &Member<Self::Server>) {}

    /// Where clients discover the master through a Sentinel.
    fn sentinel_discovery(&self, member: &Member<Self::Server>) -> SocketAddr {
        member.endpoint.client
    }

    /// The backend's partitions, if it can cut links.
    fn partition(&mut self) -> Option<&mut dyn Partition>;

    /// The backend's link delays, if it can slow links.
    fn link_delay(&mut self) -> Option<&mut dyn LinkDelay>;

    /// The nodes' lazy disks, when the run asked for them (mounted by
    /// [`Transport::members`]; a node's `dir` is then its disk's mount).
    fn disks(&self) -> Option<&Disks> {
        None
    }

    /// Stops every member's server (Sentinels first, so none fails over while nodes go down)
    /// and removes everything the backend created. Returns what could not be removed.
    /// Synchronous: it also runs on drop and on the signal path.
    fn teardown(&mut self, members: &mut Vec<Member<Self::Server>>) -> Vec<String>;
}
