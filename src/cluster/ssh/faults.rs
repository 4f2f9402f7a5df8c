//! The faults of the SSH backend, and bringing the cluster back: kill and pause are signals
//! sent on the host to the server redline started and what it forked (SIGKILL, SIGSTOP/SIGCONT,
//! checked by its working folder); a partition is one nftables table per host that the cut
//! concerns, replaced atomically as the cut set grows; delay is refused (no netem here, and on
//! real hosts the links are not redline's to slow down).

use super::cluster::SshCluster;
use super::scripts;
use crate::cluster::backend::{restart_config, Backend as _, RestartConfig};
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
    /// servers and starts dead ones. Every member is tried; the error lists every failure.
    pub async fn heal_all(&mut self) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let mut failures = Vec::new();
        let had_cuts = !self.cuts.is_empty();
        match self.lift_rules().await {
            Ok(()) if had_cuts => done.push("lifted every partition rule".to_string()),
            Ok(()) => {}
            Err(e) => failures.push(format!("{e:#}")),
        }
        for name in self.member_names() {
            let healed = async {
                self.refresh_state(&name).await?;
                match self.state(&name) {
                    Some(ProcessState::Paused) => {
                        self.resume(&name).await?;
                        anyhow::Ok(Some(format!("resumed {name}")))
                    }
                    Some(ProcessState::Dead) => {
                        self.start_by_name(&name).await?;
                        Ok(Some(format!("started {name}")))
                    }
                    _ => Ok(None),
                }
            };
            match healed.await {
                Ok(what) => done.extend(what),
                Err(e) => failures.push(format!("{name}: {e:#}")),
            }
        }
        if !failures.is_empty() {
            bail!("healing failed: {}", failures.join("; "));
        }
        Ok(done)
    }

    /// Deletes the run's table on every host (not only those known to hold one: a cut that
    /// failed halfway may have left one).
    async fn lift_rules(&mut self) -> Result<()> {
        let script = scripts::nft_delete(&self.tag.table());
        let mut failures = Vec::new();
        for m in self.nodes.iter().chain(&self.sentinels) {
            if let Err(e) = m.remote.run("lifting partition rules", &script).await {
                failures.push(format!("{e:#}"));
            }
        }
        if !failures.is_empty() {
            bail!("could not lift partition rules: {}", failures.join("; "));
        }
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
        let out = m
            .remote
            .run(
                "asking whether the server runs",
                &scripts::probe(&m.dir, pid),
            )
            .await?;
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
        if let RestartConfig::Write { replica_of } = restart_config(self, name) {
            self.upload_node_conf(idx, replica_of).await?;
        }
        self.start_member(false, idx).await
    }

    /// Sends `signal` to the member's server; an error when the server is not there to get it
    /// (a fault that did nothing must not be recorded as done).
    async fn send(&mut self, node: &str, signal: &str, then: ProcessState) -> Result<()> {
        let m = self
            .member_mut(node)
            .with_context(|| format!("no member {node}"))?;
        let pid = m
            .pid
            .with_context(|| format!("{node} has no server running"))?;
        let what = format!("sending SIG{signal} to the server");
        let out = m
            .remote
            .run(&what, &scripts::signal(&m.dir, Some(pid), signal))
            .await?;
        if out.trim() == "gone" {
            m.state = ProcessState::Dead;
            m.pid = None;
            bail!("{node}'s server (pid {pid}) is no longer running; SIG{signal} not sent");
        }
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
    /// Adds `links` to the cut set and rewrites the run's table on every host concerned. Each
    /// host's rules name the harness as that host sees it and spare that host's sshd port.
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
        let table = self.tag.table();
        for m in self.nodes.iter().chain(&self.sentinels) {
            let rule = ClientsRule::AllTcpBut(m.sshd_port);
            let mut plan = nft_rules::plan(&cuts, &parties, m.harness, rule)?;
            let Some(rules) = plan.remove(&m.name) else {
                continue;
            };
            let script = nft_rules::render(&table, &rules);
            m.remote
                .run_with_input(
                    "installing partition rules (nft -f)",
                    scripts::NFT_LOAD,
                    script.as_bytes(),
                )
                .await?;
        }
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
