//! The faults of the netns backend, and bringing the cluster back: healing every fault and
//! converging replication before the final reads.
//!
//! Kill and pause are signals to the server's real pid (SIGKILL, SIGSTOP/SIGCONT); a partition
//! is the firewall's nftables rules; delay is refused, since this kernel has no netem.

use super::cluster::NetnsCluster;
use crate::cluster::backend::{restart_config, RestartConfig};
use crate::cluster::capabilities::{Kill, LinkDelay, Partition, Pause, Promote};
use crate::cluster::links::Delay;
use crate::cluster::process::ProcessState;
use anyhow::{bail, Context, Result};

/// Why [`LinkDelay`] is refused, word for word.
pub const NO_NETEM: &str =
    "delay needs netem, which this kernel lacks; use --net local (redline's proxy)";

impl NetnsCluster {
    /// Lifts every partition rule, resumes paused processes and starts dead ones.
    pub async fn heal_all(&mut self) -> Result<Vec<String>> {
        let mut done = Vec::new();
        // Always lift: a cut that failed halfway may have left tables without recorded cuts.
        let had_cuts = !self.firewall.cuts().is_empty();
        self.firewall.heal()?;
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
            self.write_node_conf(&self.nodes[idx], replica_of)?;
        }
        self.start_member(false, idx).await
    }
}

impl Kill for NetnsCluster {
    async fn kill(&mut self, node: &str) -> Result<()> {
        let m = self
            .member_mut(node)
            .with_context(|| format!("no member {node}"))?;
        m.process.kill()?;
        self.write_pids();
        Ok(())
    }

    async fn start(&mut self, node: &str) -> Result<()> {
        if self.state(node) != Some(ProcessState::Dead) {
            return Ok(());
        }
        self.start_by_name(node).await
    }
}

impl Pause for NetnsCluster {
    async fn pause(&mut self, node: &str) -> Result<()> {
        let m = self
            .member_mut(node)
            .with_context(|| format!("no member {node}"))?;
        m.process.pause()
    }

    async fn resume(&mut self, node: &str) -> Result<()> {
        let m = self
            .member_mut(node)
            .with_context(|| format!("no member {node}"))?;
        if m.process.state() != ProcessState::Paused {
            return Ok(());
        }
        m.process.resume()
    }
}

impl Partition for NetnsCluster {
    /// Installs DROP rules for every directed link given (see `firewall.rs`).
    async fn cut(&mut self, links: &[(String, String)]) -> Result<()> {
        let clients = self.network.bridge_addr();
        self.firewall.cut(links, &self.network.hosts, clients)
    }

    async fn heal(&mut self) -> Result<()> {
        self.firewall.heal()
    }
}

impl LinkDelay for NetnsCluster {
    async fn delay(&mut self, _links: &[(String, String)], _delay: Delay) -> Result<()> {
        bail!(NO_NETEM)
    }

    /// Nothing was ever delayed, so there is nothing to undo.
    async fn undelay(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Promote for NetnsCluster {
    async fn promote(&mut self, node: &str) -> Result<()> {
        crate::cluster::backend::promote_by_replicaof(self, node).await
    }
}
