//! The SSH backend's cluster: every node and Sentinel is a server process on a host of its own,
//! which redline drives over SSH as Jepsen drives its nodes. Clients, replicas and Sentinels
//! reach the servers at the hosts' addresses; the harness's own commands (INFO, REPLICAOF,
//! telemetry, final reads) go through an SSH port forward to each host's loopback, which
//! partitions never cut (they spare the SSH port).
//!
//! Life of a cluster: [`SshCluster::start`] writes `ssh.json` (so a killed run can be cleaned
//! up), prepares the hosts (`setup.rs`: sessions, tools, what earlier runs left), uploads
//! configs, starts the servers and waits for replication and Sentinels; faults go through the
//! capability traits (`faults.rs`); [`SshCluster::teardown`] (also run on drop) stops every
//! server, lifts every rule, pulls the logs into the run folder and removes the remote folders.

use super::hosts::HostLayout;
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
/// Where run folders go on the hosts unless `--remote-dir` says otherwise: root writes there,
/// so not a world-writable folder such as /tmp.
pub const DEFAULT_REMOTE_DIR: &str = "/var/lib/redline";

/// What the SSH backend needs beyond the [`ClusterSpec`] (whose `server_bin` is the path on the
/// hosts).
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub layout: HostLayout,
    pub login: SshLogin,
    /// The folder on the hosts under which each run gets `<tag>/<member>/`.
    pub remote_dir: String,
    /// The run partitions: every host needs `nft`, checked before anything starts.
    pub partitions: bool,
}

/// A node or a Sentinel on its host.
pub(super) struct Member {
    pub(super) name: String,
    pub(super) sentinel: bool,
    /// The host's own address (from its `$SSH_CONNECTION`): where the server binds.
    pub(super) addr: Ipv4Addr,
    pub(super) port: u16,
    /// The harness's address as this host sees it (the `clients` party).
    pub(super) harness: Ipv4Addr,
    /// The port this host's sshd listens on (spared by partitions).
    pub(super) sshd_port: u16,
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
    /// Directed links cut now.
    pub(super) cuts: BTreeSet<(String, String)>,
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
        spec.replicas = options.layout.nodes.len().saturating_sub(1);
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
            cuts: BTreeSet::new(),
            record: record_path,
            control_dir,
            torn_down: false,
            server: ServerIdentity::default(),
            options,
        };
        // From here on an error drops the cluster, which tears everything down.
        cluster.prepare_hosts().await?;
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
                    .run_with_input(
                        "uploading --redis-conf",
                        &scripts::write_file(&remote),
                        &text,
                    )
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
            .run_with_input(
                "uploading the config",
                &scripts::write_file(&path),
                text.as_bytes(),
            )
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
        let sentinels: Vec<(String, SocketAddr, String)> = self
            .sentinels
            .iter()
            .map(|s| {
                let log = format!("{} on {}", s.log_name(), s.remote.label);
                (s.name.clone(), s.admin, log)
            })
            .collect();
        crate::cluster::convergence::await_sentinels_ready(
            &sentinels,
            self.spec.replicas,
            READY_TIMEOUT,
        )
        .await?;
        let addrs = self.sentinels.iter().map(Member::data_addr).collect();
        self.topology.use_sentinels(addrs, MASTER_NAME);
        Ok(())
    }

    /// Starts one member's server and waits until it answers INFO, through the forward, with
    /// the pid redline started (another server may hold the port).
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
        let script = scripts::start(&m.dir, &bin, &args);
        let out = m.remote.run("starting the server", &script).await?;
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
            let state = m
                .remote
                .run(
                    "asking whether the server runs",
                    &scripts::probe(&m.dir, pid),
                )
                .await?;
            if state.trim() == "dead" || Instant::now() > deadline {
                bail!(
                    "{} on {} {} (port {} in use, or a bad option?); the end of its log:\n{}",
                    m.name,
                    m.remote.label,
                    if state.trim() == "dead" {
                        "exited right after starting"
                    } else {
                        "did not answer within 10 s"
                    },
                    m.port,
                    log_tail(m).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every server (Sentinels first, so none fails over while nodes go down), lifts
    /// every rule, pulls the logs into the run folder, removes the remote folders and closes the
    /// sessions. Idempotent; also runs on drop. Returns what could not be done (normally
    /// nothing); then `ssh.json` stays for `redline cleanup`.
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
                    Ok(rt) => rt.block_on(async {
                        let mut failures =
                            stop_all(&self.sentinels, &self.tag, &self.options).await;
                        failures.extend(stop_all(&self.nodes, &self.tag, &self.options).await);
                        failures
                    }),
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
        } else {
            let store = self
                .spec
                .run_dir
                .parent()
                .and_then(Path::parent)
                .unwrap_or(&self.spec.run_dir);
            eprintln!(
                "redline: could not clean up every SSH host; once they are reachable, run: redline cleanup --store {}",
                store.display()
            );
        }
        for f in &failures {
            tracing::warn!("ssh teardown: {f}");
        }
        failures
    }
}

/// Stops the members' servers in parallel, lifts the run's table on their hosts, pulls their
/// logs and removes their folders. A member whose server could not be stopped keeps its folder
/// (its pid file is what `redline cleanup` needs), and after a failed command on a host the
/// remaining steps there are skipped (a dead host would cost a timeout each).
async fn stop_all(members: &[Member], tag: &Tag, options: &SshOptions) -> Vec<String> {
    let table = &tag.table();
    let run_dir = &format!("{}/{}", options.remote_dir, tag);
    let work = members.iter().map(|m| async move {
        let steps = async {
            m.remote
                .run(
                    "stopping the server",
                    &scripts::signal(&m.dir, None, "KILL"),
                )
                .await?;
            m.remote
                .run("lifting partition rules", &scripts::nft_delete(table))
                .await?;
            for file in [m.log_name(), "stdout.log"] {
                let path = format!("{}/{file}", m.dir);
                let text = m.remote.run("copying a log", &scripts::cat(&path)).await?;
                if !text.is_empty() {
                    let _ = std::fs::write(m.local_dir.join(file), text);
                }
            }
            m.remote
                .run(
                    "removing the run folder",
                    &scripts::remove_dir(&m.dir, run_dir),
                )
                .await?;
            anyhow::Ok(())
        };
        steps.await.err().map(|e| format!("{e:#}"))
    });
    futures_util::future::join_all(work)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The end of a member's log and stdout, for an error message.
async fn log_tail(m: &Member) -> String {
    let log = format!("{}/{}", m.dir, m.log_name());
    let stdout = format!("{}/stdout.log", m.dir);
    let script = format!("{}{}", scripts::tail(&log, 15), scripts::tail(&stdout, 5));
    m.remote
        .run("reading the log", &script)
        .await
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

impl Drop for SshCluster {
    fn drop(&mut self) {
        self.teardown();
    }
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
