//! What a cluster backend can do to its members, one small trait per fault family (Jepsen's
//! `Kill`, `Pause`, `Partition`, ...).
//!
//! Every backend runs server processes, so every backend can kill and pause them: [`Kill`] and
//! [`Pause`] are required of any [`Backend`](super::backend::Backend). Cutting and slowing links
//! depends on how a backend reaches its members, so [`Partition`] and [`LinkDelay`] are
//! optional, as Jepsen's protocols are: a backend is *asked* for them
//! ([`Backend::partition`](super::backend::Backend::partition) returns `None` when it has no
//! such thing), and [`Capabilities`] says the same before any cluster exists, so that config
//! validation refuses a plan up front instead of a fault failing halfway through a run.
//!
//! [`PowerLoss`] is optional the same way: it needs each node's data dir on redline's FUSE
//! layer (`redline-lazyfs`), which only a backend whose servers run on this machine can mount,
//! and only where `/dev/fuse` and `fusermount3` exist. The layer is mounted only when a run
//! asks for it (a `power-loss` fault, or a slow disk), so other runs pay nothing.
//!
//! Promotion is not a capability: it is `REPLICAOF` sent through the harness's own address,
//! which every backend has (see `nemesis::promote`).

use super::links::Delay;
use anyhow::Result;
use futures_util::future::{BoxFuture, LocalBoxFuture};
use redline_lazyfs::Loss;
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
///
/// Object-safe (the futures are boxed), so a backend can hand out `&mut dyn Partition`.
pub trait Partition: Send {
    /// Cuts every directed link `(from, to)` given, on top of those cut already.
    fn cut<'a>(&'a mut self, links: &'a [(String, String)]) -> BoxFuture<'a, Result<()>>;
    /// Lifts every cut.
    fn heal(&mut self) -> BoxFuture<'_, Result<()>>;
    /// The directed links cut now, sorted.
    fn cut_links(&self) -> Vec<(String, String)>;
}

/// Add latency to links (by name, as [`Partition`]).
pub trait LinkDelay: Send {
    fn delay<'a>(
        &'a mut self,
        links: &'a [(String, String)],
        delay: Delay,
    ) -> BoxFuture<'a, Result<()>>;
    /// Removes every delay.
    fn undelay(&mut self) -> BoxFuture<'_, Result<()>>;
}

/// Lose a node's unsynced writes together with its process, as a power loss of its machine
/// would; `Kill::start` brings it back on what its disk kept.
pub trait PowerLoss {
    /// SIGKILLs `node`, then drops every write its data dir had not made durable (see
    /// `redline_lazyfs` for what that means); says what was dropped.
    fn lose_power<'a>(&'a mut self, node: &'a str) -> LocalBoxFuture<'a, Result<Loss>>;
}

/// An optional capability, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Partition,
    LinkDelay,
    /// Data dirs on redline's FUSE layer: the `power-loss` fault and `--fsync-delay-ms`.
    LazyDisk,
}

impl Capability {
    /// What the capability does, for messages ("--net netns cannot delay links: ...").
    pub fn does(self) -> &'static str {
        match self {
            Capability::Partition => "cut links",
            Capability::LinkDelay => "delay links",
            Capability::LazyDisk => "put data dirs on a lazy disk (power-loss, --fsync-delay-ms)",
        }
    }
}

/// Whether a kind of backend has a capability, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// Why not, word for word, with what to use instead.
    No(&'static str),
}

/// What a kind of backend can do beyond running processes, known before any cluster exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub partition: Support,
    pub link_delay: Support,
    pub lazy_disk: Support,
}

impl Capabilities {
    /// A backend that cuts links with firewall rules on real hosts (netns, SSH) and cannot
    /// slow them (no netem): why not, and whether its disks can be lazy.
    pub fn firewalled(no_delay: &'static str, lazy_disk: Support) -> Capabilities {
        Capabilities {
            partition: Support::Yes,
            link_delay: Support::No(no_delay),
            lazy_disk,
        }
    }

    pub fn support(&self, capability: Capability) -> Support {
        match capability {
            Capability::Partition => self.partition,
            Capability::LinkDelay => self.link_delay,
            Capability::LazyDisk => self.lazy_disk,
        }
    }

    /// Why the backend lacks `capability`, or `None` when it has it.
    pub fn refusal(&self, capability: Capability) -> Option<&'static str> {
        match self.support(capability) {
            Support::Yes => None,
            Support::No(why) => Some(why),
        }
    }
}

/// Whether this machine can mount the lazy disk (for backends whose servers run here).
pub fn lazy_disk_here() -> Support {
    match redline_lazyfs::unavailable() {
        None => Support::Yes,
        Some(why) => Support::No(why),
    }
}

/// How long a backend waits for things by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
