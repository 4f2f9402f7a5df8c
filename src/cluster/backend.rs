//! What the runner, the nemesis and the final phase need from a cluster, whatever it runs on:
//! the layout, addresses and lifecycle, the process faults every backend has ([`Kill`],
//! [`Pause`]), and what a backend may or may not have, which is asked for
//! ([`Backend::partition`], [`Backend::link_delay`], [`Backend::power_loss`]) rather than
//! assumed.

use super::admin::ServerIdentity;
use super::capabilities::{Capabilities, Kill, LinkDelay, Partition, Pause, PowerLoss};
use super::process::ProcessState;
use anyhow::Result;
use redline_workloads::Topology;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A running cluster of this run. Dropping it stops everything it started.
#[allow(async_fn_in_trait)]
pub trait Backend: Kill + Pause {
    /// The client view (addresses clients use; Sentinel discovery when enabled).
    fn topology(&self) -> Topology;
    /// Data nodes, in name order (`n1`, `n2`, ...).
    fn node_names(&self) -> Vec<String>;
    fn sentinel_names(&self) -> Vec<String>;
    /// Where the harness sends its own commands to a node or Sentinel: never cut by a fault.
    fn admin_addr(&self, name: &str) -> Option<SocketAddr>;
    /// Where clients, replicas and Sentinels reach a node: what faults act on.
    fn client_addr(&self, name: &str) -> Option<SocketAddr>;
    /// The node reached at a client address (Sentinel reports client addresses).
    fn node_at(&self, addr: SocketAddr) -> Option<String>;
    /// Admin addresses of the Sentinels.
    fn sentinel_addrs(&self) -> Vec<(String, SocketAddr)>;
    /// Whether a node or Sentinel is running, paused or dead.
    fn state(&mut self, name: &str) -> Option<ProcessState>;
    /// Folders of every node and Sentinel (config, log, data).
    fn node_dirs(&self) -> Vec<(String, PathBuf)>;
    /// What the servers say they are.
    fn server(&self) -> &ServerIdentity;
    /// What this backend can do beyond running processes; the same answer as
    /// [`Backend::partition`] and [`Backend::link_delay`] give.
    fn capabilities(&self) -> Capabilities;
    /// The backend's partitions, or `None` when it cannot cut links.
    fn partition(&mut self) -> Option<&mut dyn Partition>;
    /// The backend's link delays, or `None` when it cannot slow links.
    fn link_delay(&mut self) -> Option<&mut dyn LinkDelay>;
    /// Power losses, or `None` when the nodes' data dirs are not on lazy disks (the backend
    /// cannot mount them, or the run did not ask).
    fn power_loss(&mut self) -> Option<&mut dyn PowerLoss>;
    /// Lifts every fault: resumes paused processes, starts dead ones, removes every link rule.
    async fn heal_all(&mut self) -> Result<Vec<String>>;
    /// Stops every process and removes everything the backend created. Idempotent.
    fn teardown(&mut self);

    /// The master as the harness last made or saw it.
    fn master(&self) -> String {
        self.topology()
            .master()
            .map(|e| e.node)
            .unwrap_or_else(|| "n1".to_string())
    }

    /// Records that `node` is the master now.
    fn set_master(&mut self, node: &str) {
        self.topology().set_master(node);
    }
}
