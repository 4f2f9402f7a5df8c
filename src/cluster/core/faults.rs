//! Process faults and healing, once for every backend: kill and pause are signals to a member's
//! process group through its transport, a power loss is a kill followed by the loss of what
//! the node's lazy disk had not made durable; healing lifts every link rule the backend has,
//! resumes paused servers and starts dead ones.

use super::Cluster;
use crate::cluster::capabilities::{Kill, Pause, PowerLoss};
use crate::cluster::process::ProcessState;
use crate::cluster::transport::{Server, Signal, Transport};
use anyhow::{bail, Context, Result};
use futures_util::future::LocalBoxFuture;
use redline_lazyfs::Loss;

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

/// The server dies first, so nothing it writes after the loss counts as lost; its page cache
/// goes right after, before anything can start it again (the nemesis holds the cluster).
impl<T: Transport> PowerLoss for Cluster<T> {
    fn lose_power<'a>(&'a mut self, node: &'a str) -> LocalBoxFuture<'a, Result<Loss>> {
        Box::pin(async move {
            if self
                .transport
                .disks()
                .and_then(|d| d.data_dir(node))
                .is_none()
            {
                bail!("{node}'s data dir is not on a lazy disk (the run did not ask for one)");
            }
            Kill::kill(self, node).await?;
            let disks = self.transport.disks().context("the run's lazy disks")?;
            disks.lose_unsynced(node)
        })
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
