//! The SSH transport: every node and Sentinel is a server process on a host of its own, which
//! redline drives over SSH as Jepsen drives its nodes. Clients, replicas and Sentinels reach the
//! servers at the hosts' addresses; the harness's own commands (INFO, REPLICAOF, telemetry,
//! final reads) go through an SSH port forward to each host's loopback, which partitions never
//! cut (they spare the SSH port).
//!
//! [`SshCluster::start`] writes `ssh.json` (so a killed run can be cleaned up), then the cluster
//! core asks for the members: the hosts are prepared (`setup.rs`: sessions, tools, what earlier
//! runs left); configs are uploaded here; servers are `server.rs`'s; partitions `firewall.rs`'s.
//! Teardown (also run on drop) stops every server, lifts every rule, pulls the logs into the
//! run folder and removes the remote folders.

use super::firewall::SshHost;
use super::hosts::HostLayout;
use super::record::SshRecord;
use super::remote::SshLogin;
use super::scripts;
use super::server::RemoteServer;
use crate::cluster::capabilities::{Capabilities, LinkDelay, Partition, Support};
use crate::cluster::core::{Cluster, ClusterSpec};
use crate::cluster::firewall::Firewall;
use crate::cluster::netns::Tag;
use crate::cluster::redis_conf;
use crate::cluster::transport::{Member, Role, Transport};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The port every node listens on (one member per host).
pub const NODE_PORT: u16 = 6379;
/// The port every Sentinel listens on.
pub const SENTINEL_PORT: u16 = 26379;
/// Where run folders go on the hosts unless `--remote-dir` says otherwise: root writes there,
/// so not a world-writable folder such as /tmp.
pub const DEFAULT_REMOTE_DIR: &str = "/var/lib/redline";

/// Why link delay is not available, word for word.
pub const NO_DELAY: &str =
    "delay is not available on SSH hosts (it needs netem on the hosts); use --net local (redline's proxy)";

/// Why SSH hosts get no lazy disk, word for word.
pub const NO_LAZY_DISK: &str = "the lazy disk is a FUSE file system that redline runs in its \
     own process, beside the servers; on SSH hosts it would have to run on every host (with \
     fuse3 there), which redline does not do; use --net local or --net netns";

/// What the SSH backend needs beyond the [`ClusterSpec`] (whose `server_bin` is the path on the
/// hosts).
#[derive(Debug, Clone, PartialEq)]
pub struct SshOptions {
    pub layout: HostLayout,
    pub login: SshLogin,
    /// The folder on the hosts under which each run gets `<tag>/<member>/`.
    pub remote_dir: String,
    /// The run partitions: every host needs `nft`, checked before anything starts.
    pub partitions: bool,
}

/// A running cluster on SSH hosts. Dropping it stops every server and removes every rule and
/// remote folder it created.
pub type SshCluster = Cluster<SshTransport>;

impl SshCluster {
    /// Starts the members `options.layout` names, each on its host: the master (`n1`), the
    /// replicas and the Sentinels, and waits until replication (and Sentinel discovery) is up;
    /// or, with `spec.sharding`, the shards' nodes (n1.. shard by shard), and forms the cluster.
    pub async fn start(mut spec: ClusterSpec, options: SshOptions) -> Result<SshCluster> {
        let nodes = options.layout.nodes.len();
        match spec.sharding {
            // The hosts are the shards' nodes: they must make whole shards of the spec's size.
            Some(s) => anyhow::ensure!(
                s.node_count() == nodes,
                "--nodes names {nodes} nodes, but {} shards of {} make {}",
                s.shards,
                s.per_shard(),
                s.node_count()
            ),
            None => spec.replicas = nodes.saturating_sub(1),
        }
        spec.sentinels = options.layout.sentinels.len();
        Cluster::launch(spec, |spec| SshTransport::new(spec, options)).await
    }
}

/// Servers on SSH hosts.
pub struct SshTransport {
    pub(super) options: SshOptions,
    /// The server's path on the hosts.
    pub(super) server_bin: String,
    pub(super) tag: Tag,
    /// `ssh.json` in the run folder.
    record: PathBuf,
    /// Where the SSH control sockets live.
    pub(super) control_dir: PathBuf,
    run_dir: PathBuf,
    pub(super) firewall: Firewall<SshHost>,
}

impl SshTransport {
    /// Writes `ssh.json` before anything happens on a host, and makes the control folder.
    fn new(spec: &ClusterSpec, options: SshOptions) -> Result<SshTransport> {
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
        let record = record.write(&spec.run_dir)?;
        Ok(SshTransport {
            server_bin: spec.server_bin.display().to_string(),
            firewall: Firewall::new(tag.table(), Vec::new()),
            tag,
            record,
            control_dir,
            run_dir: spec.run_dir.clone(),
            options,
        })
    }
}

impl Transport for SshTransport {
    type Server = RemoteServer;
    fn capabilities() -> Capabilities {
        Capabilities::firewalled(NO_DELAY, Support::No(NO_LAZY_DISK))
    }
    const LOCAL_PROCESSES: bool = false;

    async fn members(&mut self, _spec: &ClusterSpec) -> Result<Vec<Member<RemoteServer>>> {
        self.prepare_hosts().await
    }

    /// Keeps a private copy in the run folder, and uploads the config, private on the host too.
    async fn install_config(&mut self, m: &Member<RemoteServer>, text: &str) -> Result<()> {
        let copy = m.endpoint.local_dir.join(m.role.conf_name());
        redis_conf::write_private(&copy, text)
            .with_context(|| format!("writing {}'s config copy", m.name))?;
        let path = m.endpoint.conf(m.role).display().to_string();
        let script = scripts::write_file(&path);
        let what = "uploading the config";
        m.server
            .remote
            .run_with_input(what, &script, text.as_bytes())
            .await?;
        Ok(())
    }

    /// Uploads `--redis-conf` into the member's folder.
    async fn include(&mut self, m: &Member<RemoteServer>, file: &Path) -> Result<PathBuf> {
        let text = std::fs::read(file)
            .with_context(|| format!("reading --redis-conf {}", file.display()))?;
        let remote = m.endpoint.dir.join("include.conf");
        let script = scripts::write_file(&remote.display().to_string());
        let what = "uploading --redis-conf";
        m.server.remote.run_with_input(what, &script, &text).await?;
        Ok(remote)
    }

    fn partition(&mut self) -> Option<&mut dyn Partition> {
        Some(&mut self.firewall)
    }

    fn link_delay(&mut self) -> Option<&mut dyn LinkDelay> {
        None
    }

    /// Stops every server (Sentinels first), lifts every rule, pulls the logs into the run
    /// folder, removes the remote folders and closes the sessions. When something could not be
    /// done, `ssh.json` stays for `redline cleanup`.
    fn teardown(&mut self, members: &mut Vec<Member<RemoteServer>>) -> Vec<String> {
        // Teardown must work from synchronous code (drop, the signal path), with or without a
        // runtime around: run the remote commands on a runtime of their own.
        let failures = std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let Ok(rt) = rt else {
                    return vec!["starting a runtime for teardown failed".to_string()];
                };
                rt.block_on(async {
                    let (sentinels, nodes): (Vec<_>, Vec<_>) =
                        members.iter().partition(|m| m.role == Role::Sentinel);
                    let mut failures = self.stop_all(&sentinels).await;
                    failures.extend(self.stop_all(&nodes).await);
                    failures
                })
            })
            .join()
            .unwrap_or_else(|_| vec!["the teardown thread panicked".to_string()])
        });
        // Closing the sessions ends their control masters (`ssh -O exit`).
        members.clear();
        self.firewall.clear_hosts();
        let _ = std::fs::remove_dir_all(&self.control_dir);
        if failures.is_empty() {
            let _ = std::fs::remove_file(&self.record);
        } else {
            let store = self
                .run_dir
                .parent()
                .and_then(Path::parent)
                .unwrap_or(&self.run_dir);
            eprintln!(
                "redline: could not clean up every SSH host; once they are reachable, run: redline cleanup --store {}",
                store.display()
            );
        }
        failures
    }
}

impl SshTransport {
    /// The run folder on this machine.
    pub(super) fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Stops the members' servers in parallel, lifts the run's table on their hosts, pulls
    /// their logs and removes their folders. A member whose server could not be stopped keeps
    /// its folder (its pid file is what `redline cleanup` needs), and after a failed command on
    /// a host the remaining steps there are skipped (a dead host would cost a timeout each).
    async fn stop_all(&self, members: &[&Member<RemoteServer>]) -> Vec<String> {
        let table = &self.tag.table();
        let run_dir = &format!("{}/{}", self.options.remote_dir, self.tag);
        let work = members.iter().map(|m| async move {
            let (remote, dir) = (&m.server.remote, &m.server.dir);
            let steps = async {
                let stop = scripts::signal(dir, None, "KILL");
                remote.run("stopping the server", &stop).await?;
                let lift = scripts::nft_delete(table);
                remote.run("lifting partition rules", &lift).await?;
                for file in [m.role.log_name(), scripts::OUTPUT_FILE] {
                    let text = remote
                        .run("copying a log", &scripts::cat(&format!("{dir}/{file}")))
                        .await?;
                    if !text.is_empty() {
                        let _ = redis_conf::write_private(&m.endpoint.local_dir.join(file), &text);
                    }
                }
                let remove = scripts::remove_dir(dir, run_dir);
                remote.run("removing the run folder", &remove).await?;
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
}
