//! Carrying out the schedule: each fault is recorded as a nemesis invocation, applied, recorded
//! with what was actually done, held for its duration, then healed the same way. Whatever
//! happens (an error, the end of the run, Ctrl-C), the runner's heal step lifts every fault
//! afterwards, so nothing here has to be the last line of defence.

use super::grudge::{self, Layout};
use super::schedule::Step;
use super::shards::{self, Look};
use super::spec::{DelayTarget, FailoverKind, Fault, Target};
use crate::cluster::admin::{self, ADMIN_TIMEOUT};
use crate::cluster::backend::Backend;
use crate::cluster::capabilities::{Capability, LinkDelay, Partition, PowerLoss};
use crate::cluster::links::Delay;
use crate::cluster::process::ProcessState;
use crate::cluster::redis_conf::MASTER_NAME;
use crate::recorder::Recorder;
use crate::shutdown::Shutdown;
use anyhow::{bail, Context, Result};
use redline_checkers::history::nemesis_value::{
    delay_value, master_change_value, nodes_value, partition_value, promotion_intent_value,
};
use redline_checkers::{Function, NemesisValue, Op, OpType, Process};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What the progress line shows: the faults in force now.
pub type ActiveFaults = Arc<Mutex<Vec<String>>>;

/// Runs the schedule against the cluster.
pub struct Nemesis<B: Backend> {
    pub cluster: Arc<tokio::sync::Mutex<B>>,
    pub recorder: Recorder,
    pub delay: Delay,
    pub active: ActiveFaults,
}

/// What a fault did, so that it can be healed.
enum Undo {
    Start(Vec<String>),
    Resume(Vec<String>),
    HealPartition,
    Undelay,
    Nothing,
}

impl<B: Backend> Nemesis<B> {
    /// Applies every step at its offset from `start`, until the schedule ends or shutdown.
    pub async fn run(&self, steps: &[Step], start: Instant, shutdown: &Shutdown) {
        for step in steps {
            let at = start + Duration::from_millis(step.at_ms);
            if !shutdown.sleep_until(at).await {
                return;
            }
            let undo = self.apply(step).await;
            if step.duration_ms > 0 {
                let until = at + Duration::from_millis(step.duration_ms);
                // Heal even when interrupted: the runner heals again, but a fault's own pair of
                // records reads better when it is closed by its own heal.
                let _ = shutdown.sleep_until(until).await;
            }
            self.heal(undo).await;
            if shutdown.is_triggered() {
                return;
            }
        }
    }

    /// Resolves the fault's targets, records the invocation naming them (so a reader, and the
    /// report's fault bands, see `kill ["n1"]` rather than `kill:random`), applies it and records
    /// what was done.
    async fn apply(&self, step: &Step) -> Undo {
        let f = step.kind.function();
        let invoked = std::sync::atomic::AtomicBool::new(false);
        let invoke = |value: &Value| {
            invoked.store(true, std::sync::atomic::Ordering::Relaxed);
            self.record(OpType::Invoke, f.clone(), value.clone(), None);
        };
        let result = self.inject(step, &invoke).await;
        if !invoked.load(std::sync::atomic::Ordering::Relaxed) {
            self.record(OpType::Invoke, f.clone(), json!(step.fault), None);
        }
        match result {
            Ok((undo, done)) => {
                if !matches!(undo, Undo::Nothing) {
                    self.set_active(Some(format!("{} {}", step.fault, short(&done))));
                }
                self.record(OpType::Info, f, done, None);
                undo
            }
            Err(e) => {
                self.record(OpType::Info, f, json!(step.fault), Some(format!("{e:#}")));
                Undo::Nothing
            }
        }
    }

    async fn inject(&self, step: &Step, invoke: &dyn Fn(&Value)) -> Result<(Undo, Value)> {
        let mut c = self.cluster.lock().await;
        match step.kind {
            Fault::Kill(t) => {
                let nodes = process_targets(&mut *c, t, step.pick).await?;
                invoke(&nodes_value(&nodes));
                for n in &nodes {
                    c.kill(n).await?;
                }
                let done = nodes_value(&nodes);
                Ok((Undo::Start(nodes), done))
            }
            Fault::PowerLoss(t) => {
                let nodes = process_targets(&mut *c, t, step.pick).await?;
                invoke(&nodes_value(&nodes));
                let done = lose_power(&mut *c, &nodes).await?;
                Ok((Undo::Start(nodes), done))
            }
            Fault::Pause(t) => {
                let nodes = process_targets(&mut *c, t, step.pick).await?;
                invoke(&nodes_value(&nodes));
                for n in &nodes {
                    c.pause(n).await?;
                }
                let done = nodes_value(&nodes);
                Ok((Undo::Resume(nodes), done))
            }
            Fault::Partition(g) => {
                let cut = match c.sharded() {
                    Some(_) => shards::cut(&Look::of(&*c).await?, g, step.pick)?,
                    None => grudge::cut(g, &Layout::of(&*c), step.pick),
                };
                let value = partition_value(
                    super::spec::grudge_name(g),
                    (&cut.sides.0, &cut.sides.1),
                    &cut.links,
                );
                invoke(&value);
                partition(&mut *c)?.cut(&cut.links).await?;
                Ok((Undo::HealPartition, value))
            }
            Fault::Delay(target) if c.sharded().is_some() => {
                let links = shards::delay_links(&Look::of(&*c).await?, target, step.pick)?;
                let value = self.delay_value(&links);
                invoke(&value);
                link_delay(&mut *c)?.delay(&links, self.delay).await?;
                Ok((Undo::Undelay, value))
            }
            Fault::Delay(target) => {
                let links = delay_links(&Layout::of(&*c), target);
                let value = self.delay_value(&links);
                invoke(&value);
                link_delay(&mut *c)?.delay(&links, self.delay).await?;
                Ok((Undo::Undelay, value))
            }
            Fault::Promote => {
                let old = c.master();
                let candidates = running_replicas(&mut *c);
                let node = pick(&candidates, step.pick).context("no running replica to promote")?;
                invoke(&promotion_intent_value(&node, &old));
                super::promote::promote(&mut *c, &node).await?;
                Ok((Undo::Nothing, master_change_value(Some(&node), &old)))
            }
            Fault::Failover(FailoverKind::Cluster(mode)) => {
                let look = Look::of(&*c).await?;
                let shard = look.shard(step.pick);
                invoke(&json!({"shard": shard, "old_master": look.primary(shard)?}));
                let value = shards::failover(&mut *c, &look, mode, step.pick).await?;
                Ok((Undo::Nothing, value))
            }
            Fault::Failover(kind) => {
                invoke(&master_change_value(None, &c.master()));
                let value = failover(&mut *c, kind).await?;
                Ok((Undo::Nothing, value))
            }
            Fault::Migrate(way) => {
                let look = Look::of(&*c).await?;
                invoke(&json!({"way": way}));
                let value = shards::migrate(&*c, &look, way, step.pick).await?;
                Ok((Undo::Nothing, value))
            }
        }
    }

    fn delay_value(&self, links: &[(String, String)]) -> Value {
        delay_value(
            links,
            self.delay.base.as_millis() as u64,
            self.delay.jitter.as_millis() as u64,
        )
    }

    async fn heal(&self, undo: Undo) {
        let (f, result) = {
            let mut c = self.cluster.lock().await;
            match &undo {
                Undo::Nothing => return,
                Undo::Start(nodes) => {
                    self.record(OpType::Invoke, Function::Start, nodes_value(nodes), None);
                    let mut r = Ok(());
                    for n in nodes {
                        r = r.and(c.start(n).await);
                    }
                    (Function::Start, r.map(|_| nodes_value(nodes)))
                }
                Undo::Resume(nodes) => {
                    self.record(OpType::Invoke, Function::Resume, nodes_value(nodes), None);
                    let mut r = Ok(());
                    for n in nodes {
                        r = r.and(c.resume(n).await);
                    }
                    (Function::Resume, r.map(|_| nodes_value(nodes)))
                }
                Undo::HealPartition => {
                    self.record(OpType::Invoke, Function::Heal, Value::Null, None);
                    let healed = match partition(&mut *c) {
                        Ok(p) => p.heal().await,
                        Err(e) => Err(e),
                    };
                    (Function::Heal, healed.map(|_| json!("healed")))
                }
                Undo::Undelay => {
                    self.record(OpType::Invoke, Function::Undelay, Value::Null, None);
                    let undone = match link_delay(&mut *c) {
                        Ok(d) => d.undelay().await,
                        Err(e) => Err(e),
                    };
                    (Function::Undelay, undone.map(|_| json!("undelayed")))
                }
            }
        };
        match result {
            Ok(v) => self.record(OpType::Info, f, v, None),
            Err(e) => self.record(OpType::Info, f, Value::Null, Some(format!("{e:#}"))),
        };
        self.set_active(None);
    }

    fn record(&self, t: OpType, f: Function, value: Value, error: Option<String>) {
        let mut op = Op::new(0, 0, Process::Nemesis, t, f);
        op.value = value;
        op.error = error.map(Into::into);
        self.recorder.record(op);
    }

    fn set_active(&self, fault: Option<String>) {
        if let Ok(mut a) = self.active.lock() {
            a.clear();
            a.extend(fault);
        }
    }
}

fn short(v: &Value) -> String {
    NemesisValue(v.get("nodes").unwrap_or(v)).target_words(30)
}

/// The backend's partitions. Config validation refuses a plan with partitions on a backend
/// that has none (it asks the same capabilities), so the error is for library callers only.
fn partition<B: Backend>(c: &mut B) -> Result<&mut dyn Partition> {
    let why = c.capabilities().refusal(Capability::Partition);
    c.partition()
        .with_context(|| why.unwrap_or("this backend cannot cut links"))
}

/// The backend's link delays, asked as [`partition`] is.
fn link_delay<B: Backend>(c: &mut B) -> Result<&mut dyn LinkDelay> {
    let why = c.capabilities().refusal(Capability::LinkDelay);
    c.link_delay()
        .with_context(|| why.unwrap_or("this backend cannot delay links"))
}

/// The backend's power losses, asked as [`partition`] is; a backend that can mount lazy disks
/// has none when the run did not ask for them, which config validation prevents.
fn power_loss<B: Backend>(c: &mut B) -> Result<&mut dyn PowerLoss> {
    let why = c.capabilities().refusal(Capability::LazyDisk);
    c.power_loss().with_context(|| {
        why.unwrap_or("the nodes' data dirs are not on lazy disks (the run did not ask for them)")
    })
}

fn running_replicas<B: Backend>(c: &mut B) -> Vec<String> {
    let master = c.master();
    c.node_names()
        .into_iter()
        .filter(|n| *n != master)
        .filter(|n| c.state(n) == Some(ProcessState::Running))
        .collect()
}

fn pick(items: &[String], pick: u64) -> Option<String> {
    (!items.is_empty()).then(|| items[(pick % items.len() as u64) as usize].clone())
}

/// The running nodes a process fault hits, on either topology.
async fn process_targets<B: Backend>(c: &mut B, t: Target, pick: u64) -> Result<Vec<String>> {
    if c.sharded().is_some() {
        let look = Look::of(&*c).await?;
        return shards::targets(c, &look, t, pick);
    }
    targets(c, t, pick)
}

/// The running nodes a process fault hits.
fn targets<B: Backend>(c: &mut B, t: Target, p: u64) -> Result<Vec<String>> {
    let master = c.master();
    let running: Vec<String> = c
        .node_names()
        .into_iter()
        .filter(|n| c.state(n) == Some(ProcessState::Running))
        .collect();
    let replicas: Vec<String> = running.iter().filter(|n| **n != master).cloned().collect();
    let chosen = match t {
        Target::Master => running.iter().filter(|n| **n == master).cloned().collect(),
        Target::Replica => pick(&replicas, p).into_iter().collect(),
        Target::Random => pick(&running, p).into_iter().collect(),
        Target::AllReplicas => replicas,
    };
    if chosen.is_empty() {
        bail!("no running node matches the target");
    }
    Ok(chosen)
}

/// An operator failover; returns what happened, and adopts the new master when it is known.
async fn failover<B: Backend>(c: &mut B, kind: FailoverKind) -> Result<Value> {
    let old = c.master();
    match kind {
        FailoverKind::Sentinel | FailoverKind::SentinelCoordinated => {
            let (name, addr) = c
                .sentinel_addrs()
                .into_iter()
                .next()
                .context("no Sentinel")?;
            let coordinated = kind == FailoverKind::SentinelCoordinated;
            let mut cmd = redis::cmd("SENTINEL");
            cmd.arg("FAILOVER").arg(MASTER_NAME);
            if coordinated {
                cmd.arg("COORDINATED");
            }
            let _: String = admin::command(addr, &cmd, ADMIN_TIMEOUT).await?;
            // Sentinel's +switch-master event moves the topology; the runner records it.
            Ok(json!({"via": name, "old_master": old, "coordinated": coordinated}))
        }
        FailoverKind::Cluster(_) => bail!("failover:cluster needs --topology cluster"),
        FailoverKind::Coordinated => {
            let addr = c.admin_addr(&old).context("master address")?;
            let cmd = redis::cmd("FAILOVER").arg("TIMEOUT").arg(5000).clone();
            let _: String = admin::command(addr, &cmd, ADMIN_TIMEOUT).await?;
            let new = await_new_master(c, &old, Duration::from_secs(10)).await;
            if let Some(n) = &new {
                if c.sentinel_addrs().is_empty() {
                    c.set_master(n);
                }
            }
            Ok(master_change_value(new.as_deref(), &old))
        }
    }
}

/// Polls roles until a node other than `old` reports itself master.
async fn await_new_master<B: Backend>(c: &B, old: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        for n in c.node_names().into_iter().filter(|n| n != old) {
            let Some(addr) = c.admin_addr(&n) else {
                continue;
            };
            if admin::replication(addr, Duration::from_millis(300))
                .await
                .is_ok_and(|r| r.is_master())
            {
                return Some(n);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The links a standalone delay slows, both ways: the master's links to its replicas, or
/// every node's link to the clients.
fn delay_links(l: &Layout, target: DelayTarget) -> Vec<(String, String)> {
    let others: Vec<String> = match target {
        DelayTarget::ReplicaLinks => l.replicas.clone(),
        DelayTarget::ClientLinks => vec!["clients".into()],
    };
    let ends: Vec<String> = match target {
        DelayTarget::ReplicaLinks => vec![l.master.clone()],
        DelayTarget::ClientLinks => std::iter::once(l.master.clone())
            .chain(l.replicas.clone())
            .collect(),
    };
    let mut links = Vec::new();
    for a in &ends {
        for b in &others {
            links.push((a.clone(), b.clone()));
            links.push((b.clone(), a.clone()));
        }
    }
    links
}

/// Cuts the power of `nodes`; the completion's value names them and what each disk dropped
/// (the evidence for a lost write).
async fn lose_power<B: Backend>(c: &mut B, nodes: &[String]) -> Result<Value> {
    let mut lost = serde_json::Map::new();
    for n in nodes {
        let loss = power_loss(c)?.lose_power(n).await?;
        lost.insert(n.clone(), serde_json::to_value(&loss)?);
    }
    Ok(json!({"nodes": nodes, "lost": lost}))
}
