//! Starting one member: its config, its process, and the poll until the server redline started
//! answers; and starting it again after a kill, with the config the topology calls for.

use super::Cluster;
use crate::cluster::admin;
use crate::cluster::backend::Backend as _;
use crate::cluster::process::ProcessState;
use crate::cluster::redis_conf::{self, ClusterConf, NodeConf};
use crate::cluster::transport::{Role, Server, Transport};
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a server has to answer after it starts, on a normal disk.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fsyncs a start may wait for on a slow lazy disk (`--fsync-delay-ms`) before it
/// answers: an AOF's manifest, base and increment files and their folder, an RDB, a replica's
/// full resync to disk; each blocks the server for the whole delay.
const START_FSYNCS: u32 = 10;

impl<T: Transport> Cluster<T> {
    /// How long a started server has to answer: longer on a slow lazy disk, where a start that
    /// waits for a few fsyncs once took more than 10 s on a loaded machine (the nightly's
    /// slow-disk row, a replica's full resync at startup).
    fn start_timeout(&self) -> Duration {
        let fsync = self
            .spec
            .lazy_disk
            .map_or(Duration::ZERO, |d| d.fsync_delay);
        START_TIMEOUT + fsync * START_FSYNCS
    }

    /// Writes node `name`'s config: a replica of `replica_of`, or a master.
    pub(super) async fn write_node_conf(
        &mut self,
        name: &str,
        replica_of: Option<SocketAddr>,
    ) -> Result<()> {
        let i = self.member_index(name)?;
        let include = match &self.spec.redis_conf {
            Some(file) => Some(self.transport.include(&self.members[i], file).await?),
            None => None,
        };
        let cluster = self.spec.sharding.map(|s| ClusterConf {
            node_timeout_ms: s.node_timeout_ms,
            bus_announce: self.transport.bus_announce(&self.members[i]),
        });
        let e = &self.members[i].endpoint;
        let data = self.transport.disks().and_then(|d| d.data_dir(name));
        let text = redis_conf::node_conf(&NodeConf {
            port: e.port,
            bind: &e.bind,
            dir: &e.dir,
            data_dir: data,
            announce: e.client,
            replica_of,
            options: &self.spec.redis_options,
            include: include.as_deref(),
            cluster,
        })
        .with_context(|| format!("writing {name}'s config"))?;
        self.transport.install_config(&self.members[i], &text).await
    }

    /// Starts a member's server, records its pid, and waits until it answers INFO as the
    /// process redline started: whoever answers must be ours, since another program may hold
    /// the port. A server that a `--server-bin` wrapper forked (no `exec`) answers with a pid
    /// of its own, in the process group redline started: that is ours too.
    pub(super) async fn start_member(&mut self, name: &str) -> Result<()> {
        let i = self.member_index(name)?;
        let pid = self.members[i].server.start().await?;
        self.transport.running(&self.members[i], pid);
        self.write_pids();
        let patience = self.start_timeout();
        let deadline = Instant::now() + patience;
        loop {
            let m = &self.members[i];
            let addr = m.endpoint.admin;
            if let Ok(info) = admin::info(addr, "server", Duration::from_millis(500)).await {
                let answered = info.get("process_id").and_then(|p| p.parse::<u32>().ok());
                match answered {
                    Some(p) if p == pid => return Ok(()),
                    Some(p) if m.server.in_group(p).await => {
                        self.transport.running(&self.members[i], p);
                        return Ok(());
                    }
                    _ => bail!(
                        "{name}: port {} is answered by another process (pid {}), not the server \
                         redline started (pid {pid}); is another Redis listening there? Stop it \
                         or free the port",
                        m.endpoint.port,
                        answered.map_or("?".to_string(), |p| p.to_string()),
                    ),
                }
            }
            let dead = self.members[i].server.refresh().await? == ProcessState::Dead;
            if dead || Instant::now() > deadline {
                let m = &self.members[i];
                let why = m.server.output_tail(m.role.log_name()).await.explain();
                if dead {
                    bail!("{name} exited right after starting; {why}");
                }
                bail!(
                    "{name} ({addr}) did not answer within {:.1} s; {why}",
                    patience.as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a dead member again on its data dir. Without Sentinels the harness owns the
    /// topology, so a node's config is rewritten to replicate from the current master (or to be
    /// the master); with Sentinels the config stays as the server and Sentinel last rewrote it,
    /// and Sentinel reconfigures the node, as in production. A cluster node keeps its cluster
    /// state in `nodes.conf` and rejoins as it was; the cluster bus decides its role.
    pub(super) async fn start_by_name(&mut self, name: &str) -> Result<()> {
        let i = self.member_index(name)?;
        if self.spec.sharding.is_some() {
            return self.start_member(name).await;
        }
        if self.members[i].role == Role::Node && self.names(Role::Sentinel).is_empty() {
            let master = self.master();
            let replica_of = match name == master {
                true => None,
                false => Some(self.client_addr(&master).context("the master's address")?),
            };
            self.write_node_conf(name, replica_of).await?;
        }
        self.start_member(name).await
    }
}
