//! The cluster client, as applications use one: each operation goes to the node serving its
//! slot (the primary, or with `--read-from replicas` a replica of its shard, after `READONLY`),
//! found in the process's own [`SlotMap`], which it asks a node for (`CLUSTER SHARDS`, or
//! `CLUSTER SLOTS` on servers without it) when it has none or after a failure.
//!
//! Redirects are followed within the operation's time bound, and each is recorded in the
//! completion's `redirects`: `MOVED` (the map is corrected and the operation goes to the new
//! owner), `ASK` (this operation goes to the importing node, preceded by `ASKING`), `TRYAGAIN`
//! (after a short pause, to the same node). Every one of these answers proves the command ran
//! nowhere, so following it hides no outcome; the attempt counts as unsent again. `CLUSTERDOWN`
//! is not retried: the operation fails, as it would for an application, and availability shows
//! the window. Anything else ends the operation as on the standalone topology: a write whose
//! reply was lost is `info`, whatever a retry would have found.

use super::refusal::Refusal;
use super::slot_map::SlotMap;
use crate::client::{Attempt, Call, Client, Done};
use crate::config::{ReadFrom, ReplicaRouting};
use crate::outcome::{Effect, Failure};
use crate::topology::Endpoint;
use redis::Value;
use redline_checkers::history::Redirect;
use redline_checkers::Op;
use std::time::Duration;

/// Redirects followed per operation at most (a slot bouncing between nodes ends there).
pub const MAX_REDIRECTS: usize = 5;
/// The pause before retrying after `TRYAGAIN`.
const TRYAGAIN_PAUSE: Duration = Duration::from_millis(20);

/// A process's view of the cluster.
#[derive(Debug, Default)]
pub struct Router {
    map: SlotMap,
    /// Ask for a new map before the next operation.
    stale: bool,
    /// The server has no `CLUSTER SHARDS` (Redis before 7.0): use `CLUSTER SLOTS`.
    slots_only: bool,
}

impl Router {
    /// Asks for a new map before the next operation.
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    fn needs_map(&self) -> bool {
        self.stale || self.map.is_empty()
    }
}

impl Client {
    /// One attempt at `invoke` on a cluster: routed by slot, redirects followed. With `node`
    /// (a final read) the operation goes there directly, with `READONLY`, and follows nothing.
    pub(crate) async fn attempt_in_cluster(
        &mut self,
        invoke: &Op,
        node: Option<&crate::topology::Endpoint>,
        attempt: &mut Attempt,
    ) -> Result<Done, Failure> {
        let workload = self.cfg.workload;
        if let Some(node) = node {
            let cfg = self.cfg.clone();
            let conn = self.connection(node, attempt).await?;
            readonly(conn).await?;
            let call = Call {
                conn,
                invoke,
                attempt,
                cfg: &cfg,
            };
            return workload.execute(call).await;
        }
        let effect = workload.effect(invoke);
        let slot = invoke
            .slot
            .or_else(|| self.cfg.slot_of(invoke))
            .ok_or_else(|| Failure::NotSent(format!("{} has no key to route by", invoke.f)))?;
        let mut ask: Option<Endpoint> = None;
        for hop in 0..=MAX_REDIRECTS {
            if self.router.as_ref().is_some_and(Router::needs_map) {
                self.refresh_map().await?;
            }
            let target = match ask.take() {
                Some(t) => (t, true),
                None => (self.route(slot, effect)?, false),
            };
            let result = self.send_to(invoke, &target, effect, attempt).await;
            let refusal = match &result {
                Err(f) => Refusal::of(f, target.0.addr),
                Ok(_) => None,
            };
            let Some(refusal) = refusal else {
                return result;
            };
            if hop == MAX_REDIRECTS || refusal == Refusal::ClusterDown {
                return result;
            }
            // The node refused the command whole: nothing of it ran anywhere yet.
            attempt.sent = false;
            ask = self.follow(&refusal, &target, effect, attempt).await?;
        }
        Err(Failure::NotSent("redirects exhausted".into()))
    }

    /// Sends the operation to `target` (`.1`: after `ASKING`), a replica read after
    /// `READONLY`.
    async fn send_to(
        &mut self,
        invoke: &Op,
        target: &(Endpoint, bool),
        effect: Effect,
        attempt: &mut Attempt,
    ) -> Result<Done, Failure> {
        let cfg = self.cfg.clone();
        let replica_read = effect == Effect::Read && cfg.read_from != ReadFrom::Master;
        let conn = self.connection(&target.0, attempt).await?;
        if replica_read {
            readonly(conn).await?;
        }
        if target.1 {
            conn.probe(&redis::cmd("ASKING")).await?;
        }
        let call = Call {
            conn,
            invoke,
            attempt,
            cfg: &cfg,
        };
        cfg.workload.execute(call).await
    }

    /// Records the redirect and applies it: the node an `ASK` points to, if it was one.
    async fn follow(
        &mut self,
        refusal: &Refusal,
        target: &(Endpoint, bool),
        effect: Effect,
        attempt: &mut Attempt,
    ) -> Result<Option<Endpoint>, Failure> {
        let to = match refusal {
            Refusal::Moved { addr, .. } | Refusal::Ask { addr, .. } => {
                Some(self.endpoint_at(*addr)?)
            }
            _ => None,
        };
        attempt.redirects.push(Redirect {
            kind: refusal.kind().to_string(),
            node: target.0.node.clone(),
            to: to.as_ref().map(|e| e.node.clone()),
        });
        let router = self.router.as_mut().ok_or_else(no_router)?;
        match (refusal, to) {
            (Refusal::Moved { slot, .. }, Some(to)) => {
                router.map.moved(*slot, to);
                // A replica read needs the new owner's replicas: ask for the whole map.
                if effect == Effect::Read && self.cfg.read_from != ReadFrom::Master {
                    router.mark_stale();
                }
                Ok(None)
            }
            (Refusal::Ask { .. }, Some(to)) => Ok(Some(to)),
            _ => {
                tokio::time::sleep(TRYAGAIN_PAUSE).await;
                // TRYAGAIN after ASKING goes back to the importing node, with ASKING again.
                Ok(target.1.then(|| target.0.clone()))
            }
        }
    }

    /// The node a redirect names, by its address.
    fn endpoint_at(&self, addr: std::net::SocketAddr) -> Result<Endpoint, Failure> {
        let node = self.topology.node_at(addr).ok_or_else(|| {
            Failure::NotSent(format!(
                "redirected to {addr}, which is none of this run's nodes"
            ))
        })?;
        Ok(Endpoint { node, addr })
    }

    /// Where an operation on `slot` goes: a write (and a read with `--read-from master`) to the
    /// slot's primary; a replica read to one of its shard's replicas, sticky or round-robin as
    /// `--replica-routing` says; `--read-from any` to any node of the shard.
    fn route(&mut self, slot: u16, effect: Effect) -> Result<Endpoint, Failure> {
        let router = self.router.as_ref().ok_or_else(no_router)?;
        let shard = router.map.shard_of(slot).ok_or_else(|| {
            Failure::NotSent(format!("no node serves slot {slot} in the slot map"))
        })?;
        let candidates: Vec<Endpoint> = match (effect, self.cfg.read_from) {
            (Effect::Write, _) | (Effect::Read, ReadFrom::Master) => {
                return Ok(shard.primary.clone())
            }
            (Effect::Read, ReadFrom::Replicas) => shard.replicas.clone(),
            (Effect::Read, ReadFrom::Any) => std::iter::once(shard.primary.clone())
                .chain(shard.replicas.iter().cloned())
                .collect(),
        };
        if candidates.is_empty() {
            return Err(Failure::NotSent(format!(
                "slot {slot}'s shard ({}) has no replica to read from",
                shard.primary.node
            )));
        }
        let turn = match self.cfg.replica_routing {
            ReplicaRouting::Sticky => self.process,
            ReplicaRouting::RoundRobin => self.process.wrapping_add(self.reads),
        };
        self.reads += 1;
        Ok(candidates[(turn % candidates.len() as u64) as usize].clone())
    }

    /// Asks the nodes it knows (its map's, then every node of the run) for a new slot map; the
    /// first whole answer wins. Nothing of an operation is sent here.
    async fn refresh_map(&mut self) -> Result<(), Failure> {
        let router = self.router.as_ref().ok_or_else(no_router)?;
        let slots_only = router.slots_only;
        let mut candidates = router.map.nodes();
        candidates.extend(self.topology.nodes());
        // Processes start their search at different nodes, as independent applications would.
        let start = (self.process as usize) % candidates.len().max(1);
        candidates.rotate_left(start);
        // One node that does not answer (paused, cut off) must not cost the whole operation.
        let each = (self.cfg.op_timeout / 4).max(Duration::from_millis(50));
        let mut last = String::from("no node to ask");
        for node in candidates {
            let mut scratch = Attempt::default();
            let asked = async {
                let conn = self.connection(&node, &mut scratch).await?;
                ask_map(conn, slots_only).await
            };
            let answer = tokio::time::timeout(each, asked)
                .await
                .unwrap_or_else(|_| Err(Failure::NotSent(format!("no answer within {each:?}"))));
            let topology = self.topology.clone();
            let router = self.router.as_mut().ok_or_else(no_router)?;
            match answer {
                Ok((reply, slots_only)) => {
                    router.slots_only = slots_only;
                    let parsed = match slots_only {
                        true => SlotMap::from_slots(&reply, &topology),
                        false => SlotMap::from_shards(&reply, &topology),
                    };
                    match parsed {
                        Ok(map) if !map.is_empty() => {
                            router.map = map;
                            router.stale = false;
                            return Ok(());
                        }
                        Ok(_) => last = format!("{} serves no slot map yet", node.node),
                        Err(e) => last = format!("{}: {e}", node.node),
                    }
                }
                Err(e) => {
                    last = format!("{}: {}", node.node, e.message());
                    self.drop_connection(&node.node);
                }
            }
        }
        Err(Failure::NotSent(format!("no node gave a slot map: {last}")))
    }
}

/// `CLUSTER SHARDS`, or `CLUSTER SLOTS` where the server has no `SHARDS`; the reply and
/// whether it is the `SLOTS` form.
async fn ask_map(
    conn: &mut crate::client::Connection,
    slots_only: bool,
) -> Result<(Value, bool), Failure> {
    if !slots_only {
        match conn.probe(redis::cmd("CLUSTER").arg("SHARDS")).await {
            Ok(reply) => return Ok((reply, false)),
            Err(Failure::Rejected { code, .. }) if code == "ERR" => {}
            Err(e) => return Err(e),
        }
    }
    let reply = conn.probe(redis::cmd("CLUSTER").arg("SLOTS")).await?;
    Ok((reply, true))
}

/// `READONLY` once per connection: a replica then serves reads of its primary's slots.
async fn readonly(conn: &mut crate::client::Connection) -> Result<(), Failure> {
    if !conn.readonly {
        conn.probe(&redis::cmd("READONLY")).await?;
        conn.readonly = true;
    }
    Ok(())
}

fn no_router() -> Failure {
    Failure::NotSent("not a cluster client".into())
}
