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
//! Promotion is not a capability: it is `REPLICAOF` sent through the harness's own address,
//! which every backend has (see `nemesis::promote`).

use super::links::Delay;
use anyhow::Result;
use futures_util::future::BoxFuture;
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

/// An optional capability, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Partition,
    LinkDelay,
}

impl Capability {
    /// What the capability does, for messages ("--net netns cannot delay links: ...").
    pub fn does(self) -> &'static str {
        match self {
            Capability::Partition => "cut links",
            Capability::LinkDelay => "delay links",
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
}

impl Capabilities {
    pub fn support(&self, capability: Capability) -> Support {
        match capability {
            Capability::Partition => self.partition,
            Capability::LinkDelay => self.link_delay,
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

/// How long a backend waits for things by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
