//! One client process: its connections, where it sends each operation, and how the result of
//! an attempt becomes a completion record.
//!
//! A [`Client`] belongs to exactly one process and is driven by one task, so each of its
//! connections carries one command at a time, in order. That is what makes `WAIT` meaningful:
//! it counts the replicas that acknowledged *this connection's* previous write. Connections are
//! made lazily, one per node, and dropped after any failure so the next operation reconnects
//! (and, under Sentinel, rediscovers the master) instead of reusing a socket in an unknown state.
//!
//! What the commands of an operation are is the workload's ([`crate::Workload::execute`]); the
//! client routes the operation (reads per `--read-from`, anything else to the master), opens
//! the connection, bounds the whole attempt by the operation timeout and turns its outcome
//! into ok, fail or info.

use crate::cluster::routing::Router;
use crate::config::{ReadFrom, ReplicaRouting, WorkloadConfig};
pub use crate::connection::{server_error_to_failure, Connection};
use crate::outcome::{Effect, Failure};
use crate::topology::{Endpoint, Topology};
use redis::{Cmd, Value};
use redline_checkers::history::Redirect;
use redline_checkers::{Op, OpType};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

/// What an attempt got to before it ended; read after a timeout cancelled it.
#[derive(Debug, Default)]
pub struct Attempt {
    /// The node the operation was (or was to be) sent to.
    pub node: Option<String>,
    /// A command that may change data has been handed to a connection.
    pub sent: bool,
    /// The write itself was acknowledged (only a following WAIT/WAITAOF is outstanding).
    pub applied: bool,
    /// Redis Cluster: the redirects followed so far, in order.
    pub redirects: Vec<Redirect>,
}

/// One operation being executed, as a workload's [`execute`](crate::Workload::execute) sees
/// it: the connection it goes on, the invocation, and what the attempt has got to.
pub struct Call<'a> {
    pub conn: &'a mut Connection,
    pub invoke: &'a Op,
    pub attempt: &'a mut Attempt,
    /// The run's workload configuration (key naming in a cluster).
    pub cfg: &'a WorkloadConfig,
}

impl<'a> Call<'a> {
    /// The invocation's key, or a not-sent failure (nothing is sent for a malformed op).
    pub fn key(&self) -> Result<&'a str, Failure> {
        let invoke: &'a Op = self.invoke;
        invoke
            .key
            .as_deref()
            .ok_or_else(|| Failure::NotSent(format!("{} without a key", invoke.f)))
    }

    /// Sends one command ([`Connection::send`]).
    pub async fn send(&mut self, cmd: &Cmd) -> Result<Value, Failure> {
        self.conn.send(cmd, self.attempt).await
    }

    /// Marks the write acknowledged: from here on only a following wait is outstanding, and
    /// whatever it says, the operation took effect.
    pub fn applied(&mut self) {
        self.attempt.applied = true;
    }
}

/// What a successful attempt produced.
#[derive(Debug, Default)]
pub struct Done {
    /// The completion's value, when it differs from the invocation's (reads, txns).
    pub value: Option<Json>,
    /// WAIT's reply.
    pub wait_acked: Option<u64>,
    /// WAITAOF's reply: (local fsynced, replicas fsynced).
    pub waitaof_acked: Option<(u64, u64)>,
    /// A cas whose compare did not match: completes `fail` with error `mismatch`.
    pub mismatch: bool,
}

impl Done {
    /// A read that returned `value`.
    pub fn read(value: Json) -> Done {
        Done {
            value: Some(value),
            ..Done::default()
        }
    }
}

/// The Redis client of one process. Create a fresh one for the process that replaces a
/// process whose operation ended `info`.
pub struct Client {
    /// Shared with each call (a workload names its keys by it).
    pub(crate) cfg: Arc<WorkloadConfig>,
    pub(crate) topology: Topology,
    pub(crate) process: u64,
    connections: HashMap<String, Connection>,
    /// The master found through Sentinel, kept until an operation on it fails.
    discovered_master: Option<Endpoint>,
    /// Reads issued, for round-robin routing.
    pub(crate) reads: u64,
    /// Redis Cluster: this process's slot map; `None` on the standalone topology.
    pub(crate) router: Option<Router>,
}

impl Client {
    /// A client for `process`; it connects on its first operation.
    pub fn new(cfg: &WorkloadConfig, topology: Topology, process: u64) -> Self {
        Client {
            cfg: Arc::new(cfg.clone()),
            process,
            connections: HashMap::new(),
            discovered_master: None,
            reads: 0,
            router: topology.is_cluster().then(Router::default),
            topology,
        }
    }

    /// Performs `invoke` (bounded by `op_timeout`) and returns its completion record: the same
    /// process, `f` and key; type ok/fail/info (see [`crate::outcome`]); the value read or
    /// written; the node it went to; `wait.acked` / `waitaof.acked_*`; the error text.
    pub async fn invoke(&mut self, invoke: &Op) -> Op {
        self.run(invoke, None).await
    }

    /// Performs `invoke` on `node` directly, whatever its role (final reads).
    pub async fn invoke_on(&mut self, invoke: &Op, node: &Endpoint) -> Op {
        self.run(invoke, Some(node)).await
    }

    async fn run(&mut self, invoke: &Op, node: Option<&Endpoint>) -> Op {
        let mut attempt = Attempt {
            node: node.map(|n| n.node.clone()),
            ..Attempt::default()
        };
        let workload = self.cfg.workload;
        let effect = workload.effect(invoke);
        let timeout = self.cfg.op_timeout;
        let attempted = async {
            if self.router.is_some() {
                return self.attempt_in_cluster(invoke, node, &mut attempt).await;
            }
            let target = match (node, effect) {
                (Some(node), _) => node.clone(),
                (None, Effect::Read) => self.read_target().await?,
                (None, Effect::Write) => self.master().await?,
            };
            let cfg = self.cfg.clone();
            let conn = self.connection(&target, &mut attempt).await?;
            let call = Call {
                conn,
                invoke,
                attempt: &mut attempt,
                cfg: &cfg,
            };
            workload.execute(call).await
        };
        let result = tokio::time::timeout(timeout, attempted)
            .await
            .unwrap_or_else(|_| Err(Failure::timed_out(timeout, attempt.sent)));
        let mut completion = invoke.clone();
        completion.node = attempt.node.as_deref().map(Into::into);
        completion.redirects = std::mem::take(&mut attempt.redirects).into();
        match result {
            Ok(done) => fill_ok(&mut completion, done),
            // The write was acknowledged; only the WAIT/WAITAOF after it did not answer. The
            // op took effect, so it is ok, with no ack count: its durability is unknown.
            Err(failure) if attempt.applied => {
                completion.op_type = OpType::Ok;
                completion.error = Some(format!("write ok, then: {}", failure.message()).into());
                self.forget(&attempt);
            }
            Err(failure) => {
                tracing::debug!(process = self.process, node = ?attempt.node, f = %invoke.f,
                    error = %failure.message(), sent = attempt.sent, "operation failed");
                completion.op_type = failure.outcome(effect);
                completion.error = Some(failure.message().into());
                self.forget(&attempt);
            }
        }
        completion
    }

    /// Drops the connection the failed attempt used, and the discovered master with it; a
    /// cluster client asks for a new slot map before its next operation.
    fn forget(&mut self, attempt: &Attempt) {
        if let Some(router) = &mut self.router {
            router.mark_stale();
        }
        if let Some(node) = &attempt.node {
            self.connections.remove(node);
            if self.discovered_master.as_ref().map(|m| &m.node) == Some(node) {
                self.discovered_master = None;
            }
        }
    }

    /// Drops the connection to `node` (its stream is in an unknown state).
    pub(crate) fn drop_connection(&mut self, node: &str) {
        self.connections.remove(node);
    }

    /// The master to write to: asked of Sentinel (once, then cached until a failure) when the
    /// run uses Sentinel, else the harness's current view.
    async fn master(&mut self) -> Result<Endpoint, Failure> {
        if !self.topology.uses_sentinel() {
            return self
                .topology
                .master()
                .ok_or_else(|| Failure::NotSent("no master known".into()));
        }
        if let Some(master) = &self.discovered_master {
            return Ok(master.clone());
        }
        let master = self
            .topology
            .discover_master(self.cfg.op_timeout)
            .await
            .map_err(|e| Failure::NotSent(e.to_string()))?;
        self.discovered_master = Some(master.clone());
        Ok(master)
    }

    /// Where a read goes, per `read_from` and `replica_routing`. "Replicas" means every node
    /// but the master this client currently knows.
    async fn read_target(&mut self) -> Result<Endpoint, Failure> {
        let candidates = match self.cfg.read_from {
            ReadFrom::Master => return self.master().await,
            ReadFrom::Any => self.topology.nodes(),
            ReadFrom::Replicas => {
                let master = match &self.discovered_master {
                    Some(m) => Some(m.node.clone()),
                    None => self.topology.master().map(|m| m.node),
                };
                let mut nodes = self.topology.nodes();
                nodes.retain(|n| Some(&n.node) != master.as_ref());
                nodes
            }
        };
        if candidates.is_empty() {
            return Err(Failure::NotSent("no replica to read from".into()));
        }
        let turn = match self.cfg.replica_routing {
            ReplicaRouting::Sticky => self.process,
            ReplicaRouting::RoundRobin => self.process.wrapping_add(self.reads),
        };
        self.reads += 1;
        Ok(candidates[(turn % candidates.len() as u64) as usize].clone())
    }

    /// The open connection to `node`, connecting first if needed. Nothing of the operation has
    /// been sent while this runs, so its failures are [`Failure::NotSent`].
    pub(crate) async fn connection(
        &mut self,
        node: &Endpoint,
        attempt: &mut Attempt,
    ) -> Result<&mut Connection, Failure> {
        attempt.node = Some(node.node.clone());
        // A command abandoned on it (a timeout around the operation) left replies out of step.
        if self
            .connections
            .get(&node.node)
            .is_some_and(Connection::desynced)
        {
            self.connections.remove(&node.node);
        }
        if !self.connections.contains_key(&node.node) {
            // The operation's own timeout bounds the connect too.
            let conn = Connection::open(node.addr)
                .await
                .map_err(|e| Failure::NotSent(format!("connecting to {}: {e}", node.addr)))?;
            self.connections.insert(node.node.clone(), conn);
        }
        self.connections
            .get_mut(&node.node)
            .ok_or_else(|| Failure::NotSent("connection vanished".into()))
    }
}

/// Marks `completion` ok with what the operation returned.
fn fill_ok(completion: &mut Op, done: Done) {
    completion.op_type = if done.mismatch {
        OpType::Fail
    } else {
        OpType::Ok
    };
    if done.mismatch {
        // The cas script compared and did not write: a definite, harmless failure.
        completion.error = Some("mismatch".into());
    }
    if let Some(value) = done.value {
        completion.value = value;
    }
    if let (Some(wait), Some(acked)) = (completion.wait.as_mut(), done.wait_acked) {
        wait.acked = Some(acked);
    }
    if let (Some(waitaof), Some((local, replicas))) =
        (completion.waitaof.as_mut(), done.waitaof_acked)
    {
        waitaof.acked_local = Some(local);
        waitaof.acked_replicas = Some(replicas);
    }
}
