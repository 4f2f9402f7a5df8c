//! What a cluster backend can do to its nodes, one small trait per fault family (Jepsen's
//! `Kill`, `Pause`, ...), so a backend implements exactly what it supports and says so.

use super::links::Delay;
use anyhow::Result;
use std::time::Duration;

/// SIGKILL a node and start it again on the same data dir.
#[allow(async_fn_in_trait)]
pub trait Kill {
    async fn kill(&mut self, node: &str) -> Result<()>;
    async fn start(&mut self, node: &str) -> Result<()>;
}

/// SIGSTOP / SIGCONT a node.
#[allow(async_fn_in_trait)]
pub trait Pause {
    async fn pause(&mut self, node: &str) -> Result<()>;
    async fn resume(&mut self, node: &str) -> Result<()>;
}

/// Cut links between parties (by name: nodes `n1`.., Sentinels `s1`.., `clients`).
#[allow(async_fn_in_trait)]
pub trait Partition {
    /// Cuts every directed link `(from, to)` given.
    async fn cut(&mut self, links: &[(String, String)]) -> Result<()>;
    /// Lifts every cut.
    async fn heal(&mut self) -> Result<()>;
}

/// Add latency to links.
#[allow(async_fn_in_trait)]
pub trait LinkDelay {
    async fn delay(&mut self, links: &[(String, String)], delay: Delay) -> Result<()>;
    async fn undelay(&mut self) -> Result<()>;
}

/// Manual failover: make a replica the master and repoint everyone else.
#[allow(async_fn_in_trait)]
pub trait Promote {
    async fn promote(&mut self, node: &str) -> Result<()>;
}

/// How long a backend waits for things by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
