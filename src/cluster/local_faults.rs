//! The faults of the local backend, and bringing the cluster back: healing every fault and
//! converging replication before the final reads.

use super::backend::{restart_config, RestartConfig};
use super::capabilities::{Kill, LinkDelay, Partition, Pause, Promote};
use super::links::{Delay, Party};
use super::local::LocalCluster;
use super::process::ProcessState;
use super::redis_conf::{self, NodeConf};
use anyhow::{Context, Result};

impl LocalCluster {
    fn party(&self, name: &str) -> Result<Party> {
        if name == "clients" {
            return Ok(Party::Clients);
        }
        let m = self
            .member(name)
            .with_context(|| format!("no node or Sentinel named {name:?}"))?;
        Ok(m.party.clone())
    }

    fn parties(&self, links: &[(String, String)]) -> Result<Vec<(Party, Party)>> {
        links
            .iter()
            .map(|(a, b)| Ok((self.party(a)?, self.party(b)?)))
            .collect()
    }

    /// Rewrites a node's config before it starts again, as [`restart_config`] decides.
    fn rewrite_conf_for_restart(&self, idx: usize) -> Result<()> {
        let node = &self.nodes[idx];
        let RestartConfig::Write { replica_of } = restart_config(self, &node.name) else {
            return Ok(());
        };
        let text = redis_conf::node_conf(&NodeConf {
            port: node.port,
            dir: &node.dir,
            announce: node.proxy.listen,
            replica_of,
            options: &self.spec.redis_options,
            include: self.spec.redis_conf.as_deref(),
        });
        std::fs::write(&node.conf, text)
            .with_context(|| format!("rewriting {}", node.conf.display()))
    }

    /// Resumes paused processes, starts dead ones, and lifts every link rule.
    pub async fn heal_all(&mut self) -> Result<Vec<String>> {
        let mut done = Vec::new();
        self.links.heal_all();
        let names: Vec<String> = self
            .nodes
            .iter()
            .chain(&self.sentinels)
            .map(|m| m.name.clone())
            .collect();
        for name in names {
            match self.state(&name) {
                Some(ProcessState::Paused) => {
                    self.resume_member(&name)?;
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

    fn resume_member(&mut self, name: &str) -> Result<()> {
        let m = self
            .member_mut(name)
            .with_context(|| format!("no member {name}"))?;
        m.process.resume()
    }

    async fn start_by_name(&mut self, name: &str) -> Result<()> {
        if let Some(idx) = self.sentinels.iter().position(|s| s.name == name) {
            return self.start_member(true, idx).await;
        }
        let idx = self.node_index(name)?;
        self.rewrite_conf_for_restart(idx)?;
        self.start_member(false, idx).await
    }
}

impl Kill for LocalCluster {
    async fn kill(&mut self, node: &str) -> Result<()> {
        let m = self
            .member_mut(node)
            .with_context(|| format!("no member {node}"))?;
        let pid = m.process.pid();
        m.process.kill()?;
        if let (Some(pid), Ok(mut k)) = (pid, self.known.write()) {
            k.remove(&pid);
        }
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

impl Pause for LocalCluster {
    async fn pause(&mut self, node: &str) -> Result<()> {
        let m = self
            .member_mut(node)
            .with_context(|| format!("no member {node}"))?;
        m.process.pause()
    }

    async fn resume(&mut self, node: &str) -> Result<()> {
        if self.state(node) != Some(ProcessState::Paused) {
            return Ok(());
        }
        self.resume_member(node)
    }
}

impl Partition for LocalCluster {
    async fn cut(&mut self, links: &[(String, String)]) -> Result<()> {
        let pairs = self.parties(links)?;
        self.links.cut(&pairs);
        Ok(())
    }

    async fn heal(&mut self) -> Result<()> {
        self.links.heal_partitions();
        Ok(())
    }
}

impl LinkDelay for LocalCluster {
    async fn delay(&mut self, links: &[(String, String)], delay: Delay) -> Result<()> {
        let pairs = self.parties(links)?;
        self.links.delay(&pairs, delay);
        Ok(())
    }

    async fn undelay(&mut self) -> Result<()> {
        self.links.clear_delays();
        Ok(())
    }
}

impl Promote for LocalCluster {
    async fn promote(&mut self, node: &str) -> Result<()> {
        crate::cluster::backend::promote_by_replicaof(self, node).await
    }
}
