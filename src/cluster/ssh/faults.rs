//! The faults of the SSH backend, and bringing the cluster back: kill and pause are signals
//! sent on the host (SIGKILL, SIGSTOP/SIGCONT, to the pid redline started, checked by its
//! working folder), a partition is one nftables table per host that the cut concerns, replaced
//! atomically as the cut set grows, and delay is refused (no netem here; and on real hosts the
//! link is not redline's to slow down).

use super::cluster::SshCluster;
use super::hosts::SSH_PORT;
use super::scripts;
use crate::cluster::backend::Backend as _;
use crate::cluster::capabilities::{Kill, LinkDelay, Partition, Pause, Promote};
use crate::cluster::links::Delay;
use crate::cluster::nft_rules::{self, ClientsRule, Party};
use crate::cluster::process::ProcessState;
use anyhow::{bail, Context, Result};

/// Why [`LinkDelay`] is refused, word for word.
pub const NO_DELAY: &str =
    "delay is not available on SSH hosts (it needs netem on the hosts); use --net local (redline's proxy)";

impl SshCluster {
    /// Lifts every partition rule, asks each host what its server is doing, resumes paused
    /// servers and starts dead ones.
    pub async fn heal_all(&mut self) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let had_cuts = !self.cuts.is_empty();
        self.lift_rules().await?;
        if had_cuts {
            done.push("lifted every partition rule".to_string());
        }
        let names: Vec<String> = self
            .nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| m.name.clone())
            .collect();
        for name in names {
            self.refresh_state(&name).await?;
            match self.state(&name) {
                Some(ProcessState::Paused) => {
                    self.resume(&name).await?;
                    done.push(format!("resumed {name}"));
                }
                Some(ProcessState::Dead) => {
                    self.start_by_name(&name).await?;
                    done.push(format!("started {name}"));
                }
                _ => {}
            }
        }
        Ok(done)
    }

    /// Deletes the run's table on every host (not only those known to hold one: a cut that
    /// failed halfway may have left one).
    async fn lift_rules(&mut self) -> Result<()> {
        let table = self.tag.table();
        let script = scripts::nft_delete(&table);
        let mut failures = Vec::new();
        for m in self.nodes.iter().chain(&self.sentinels) {
            if let Err(e) = m.remote.run(&script).await {
                failures.push(format!("{e:#}"));
            }
        }
        if !failures.is_empty() {
            bail!("could not lift partition rules: {}", failures.join("; "));
        }
        self.installed.clear();
        self.cuts.clear();
        Ok(())
    }

    /// Asks the member's host whether its server runs, is stopped, or is gone.
    async fn refresh_state(&mut self, name: &str) -> Result<()> {
        let m = self
            .member_mut(name)
            .with_context(|| format!("no member {name}"))?;
        let Some(pid) = m.pid else {
            m.state = ProcessState::Dead;
            return Ok(());
        };
        let out = m.remote.run(&scripts::probe(&m.dir, pid)).await?;
        m.state = match out.trim() {
            "running" => ProcessState::Running,
            "paused" => ProcessState::Paused,
            _ => ProcessState::Dead,
        };
        Ok(())
    }

    async fn start_by_name(&mut self, name: &str) -> Result<()> {
        if let Some(idx) = self.sentinels.iter().position(|s| s.name == name) {
            return self.start_member(true, idx).await;
        }
        let idx = self
            .nodes
            .iter()
            .position(|n| n.name == name)
            .with_context(|| format!("no node named {name:?}"))?;
        // Without Sentinels the harness owns the topology: a restarted node replicates from the
        // current master (or is the master). With Sentinels the config stays as the server and
        // Sentinel last rewrote it, and Sentinel reconfigures the node, as in production.
        if self.sentinels.is_empty() {
            let master = self.master();
            let replica_of = (name != master)
                .then(|| self.client_addr(&master))
                .flatten();
            self.upload_node_conf(idx, replica_of).await?;
        }
        self.start_member(false, idx).await
    }

    async fn send(&mut self, node: &str, signal: &str, then: ProcessState) -> Result<()> {
        let m = self
            .member_mut(node)
            .with_context(|| format!("no member {node}"))?;
        let pid = m
            .pid
            .with_context(|| format!("{node} has no server running"))?;
        m.remote.run(&scripts::signal(&m.dir, pid, signal)).await?;
        m.state = then;
        if then == ProcessState::Dead {
            m.pid = None;
        }
        Ok(())
    }
}

impl Kill for SshCluster {
    async fn kill(&mut self, node: &str) -> Result<()> {
        self.send(node, "KILL", ProcessState::Dead).await
    }

    async fn start(&mut self, node: &str) -> Result<()> {
        if self.state(node) != Some(ProcessState::Dead) {
            return Ok(());
        }
        self.start_by_name(node).await
    }
}

impl Pause for SshCluster {
    async fn pause(&mut self, node: &str) -> Result<()> {
        self.send(node, "STOP", ProcessState::Paused).await
    }

    async fn resume(&mut self, node: &str) -> Result<()> {
        if self.state(node) != Some(ProcessState::Paused) {
            return Ok(());
        }
        self.send(node, "CONT", ProcessState::Running).await
    }
}

impl Partition for SshCluster {
    /// Adds `links` to the cut set and rewrites the run's table on every host concerned.
    async fn cut(&mut self, links: &[(String, String)]) -> Result<()> {
        let mut cuts = self.cuts.clone();
        cuts.extend(links.iter().cloned());
        let parties: Vec<Party> = self
            .nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| Party {
                name: m.name.clone(),
                addr: m.addr,
            })
            .collect();
        let mut installed = Vec::new();
        let plan = {
            let ssh_port = |name: &str| {
                self.options
                    .layout
                    .members()
                    .find(|s| s.name == name)
                    .map_or(SSH_PORT, |s| s.port)
            };
            // The clients rule spares the SSH port; all hosts must agree on it for one plan.
            let ports: std::collections::BTreeSet<u16> =
                parties.iter().map(|p| ssh_port(&p.name)).collect();
            if ports.len() > 1 {
                bail!("partitions with clients need every host's SSH port to be the same (have {ports:?})");
            }
            let port = ports.into_iter().next().unwrap_or(SSH_PORT);
            nft_rules::plan(&cuts, &parties, self.harness, ClientsRule::AllTcpBut(port))?
        };
        let table = self.tag.table();
        for (member, rules) in &plan {
            let m = self
                .member(member)
                .with_context(|| format!("no member {member}"))?;
            let script = nft_rules::render(&table, rules);
            m.remote
                .run_with_input(scripts::nft_load(), script.as_bytes())
                .await
                .with_context(|| {
                    format!("installing partition rules on {member} (is nftables installed there?)")
                })?;
            installed.push(member.clone());
        }
        self.installed.extend(installed);
        self.cuts = cuts;
        Ok(())
    }

    async fn heal(&mut self) -> Result<()> {
        self.lift_rules().await
    }
}

impl LinkDelay for SshCluster {
    async fn delay(&mut self, _links: &[(String, String)], _delay: Delay) -> Result<()> {
        bail!(NO_DELAY)
    }

    /// Nothing was ever delayed, so there is nothing to undo.
    async fn undelay(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Promote for SshCluster {
    async fn promote(&mut self, node: &str) -> Result<()> {
        crate::cluster::backend::promote_by_replicaof(self, node).await
    }
}

impl crate::cluster::backend::Backend for SshCluster {
    fn topology(&self) -> redline_workloads::Topology {
        SshCluster::topology(self)
    }
    fn node_names(&self) -> Vec<String> {
        SshCluster::node_names(self)
    }
    fn sentinel_names(&self) -> Vec<String> {
        SshCluster::sentinel_names(self)
    }
    fn admin_addr(&self, name: &str) -> Option<std::net::SocketAddr> {
        SshCluster::admin_addr(self, name)
    }
    fn client_addr(&self, name: &str) -> Option<std::net::SocketAddr> {
        SshCluster::client_addr(self, name)
    }
    fn node_at(&self, addr: std::net::SocketAddr) -> Option<String> {
        SshCluster::node_at(self, addr)
    }
    fn sentinel_addrs(&self) -> Vec<(String, std::net::SocketAddr)> {
        SshCluster::sentinel_addrs(self)
    }
    fn state(&mut self, name: &str) -> Option<ProcessState> {
        SshCluster::state(self, name)
    }
    fn node_dirs(&self) -> Vec<(String, std::path::PathBuf)> {
        SshCluster::node_dirs(self)
    }
    fn server(&self) -> &crate::cluster::admin::ServerIdentity {
        &self.server
    }
    async fn heal_all(&mut self) -> Result<Vec<String>> {
        SshCluster::heal_all(self).await
    }
    fn teardown(&mut self) {
        for left in SshCluster::teardown(self) {
            tracing::warn!("ssh teardown could not finish: {left}");
        }
    }
}
