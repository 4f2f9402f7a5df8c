//! Process faults and healing, once for every backend: kill and pause are signals to a member's
//! process group through its transport; healing lifts every link rule the backend has, resumes
//! paused servers and starts dead ones.

use super::Cluster;
use crate::cluster::capabilities::{Kill, Pause};
use crate::cluster::process::ProcessState;
use crate::cluster::transport::{Server, Signal, Transport};
use anyhow::{bail, Result};

impl<T: Transport> Cluster<T> {
    /// Lifts every partition rule and link delay, asks each member's host what its server is
    /// doing, resumes paused servers and starts dead ones. Every step is tried whatever failed
    /// before it; the error then lists every failure. Returns what was done.
    pub async fn heal_all(&mut self) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let mut failures = Vec::new();
        if let Some(partition) = self.transport.partition() {
            // Always lift: a cut that failed halfway may have left rules it did not record.
            let had_cuts = !partition.cut_links().is_empty();
            match partition.heal().await {
                Ok(()) if had_cuts => done.push("lifted every partition rule".to_string()),
                Ok(()) => {}
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        if let Some(delay) = self.transport.link_delay() {
            if let Err(e) = delay.undelay().await {
                failures.push(format!("{e:#}"));
            }
        }
        let names: Vec<String> = self.members.iter().map(|m| m.name.clone()).collect();
        for name in names {
            match self.heal_member(&name).await {
                Ok(what) => done.extend(what),
                Err(e) => failures.push(format!("{name}: {e:#}")),
            }
        }
        if !failures.is_empty() {
            bail!("healing failed: {}", failures.join("; "));
        }
        Ok(done)
    }

    /// Resumes a paused member or starts a dead one; says which.
    async fn heal_member(&mut self, name: &str) -> Result<Option<String>> {
        let i = self.member_index(name)?;
        match self.members[i].server.refresh().await? {
            ProcessState::Paused => {
                self.members[i].server.signal(Signal::Cont).await?;
                Ok(Some(format!("resumed {name}")))
            }
            ProcessState::Dead => {
                self.start_by_name(name).await?;
                Ok(Some(format!("started {name}")))
            }
            ProcessState::Running => Ok(None),
        }
    }

    async fn signal_member(&mut self, name: &str, signal: Signal) -> Result<()> {
        let i = self.member_index(name)?;
        self.members[i].server.signal(signal).await
    }
}

impl<T: Transport> Kill for Cluster<T> {
    async fn kill(&mut self, node: &str) -> Result<()> {
        let i = self.member_index(node)?;
        let killed = self.members[i].server.signal(Signal::Kill).await;
        self.transport.stopped(&self.members[i]);
        self.write_pids();
        killed
    }

    async fn start(&mut self, node: &str) -> Result<()> {
        let i = self.member_index(node)?;
        if self.members[i].server.state() != ProcessState::Dead {
            return Ok(());
        }
        self.start_by_name(node).await
    }
}

impl<T: Transport> Pause for Cluster<T> {
    async fn pause(&mut self, node: &str) -> Result<()> {
        self.signal_member(node, Signal::Stop).await
    }

    async fn resume(&mut self, node: &str) -> Result<()> {
        let i = self.member_index(node)?;
        if self.members[i].server.state() != ProcessState::Paused {
            return Ok(());
        }
        self.signal_member(node, Signal::Cont).await
    }
}
