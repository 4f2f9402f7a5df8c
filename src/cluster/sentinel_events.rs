//! Following Sentinel's event stream: every Sentinel's `+sdown`, `+odown`, `+switch-master`,
//! ... become observer records in the history, and a `+switch-master` moves the harness's view
//! of the master (clients find it through Sentinel themselves, as applications do).

use crate::recorder::Recorder;
use futures_util::StreamExt;
use redline_checkers::{Function, Op, OpType, Process};
use redline_workloads::Topology;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinSet;

/// The events worth a line in the history.
const EVENTS: &[&str] = &[
    "+sdown",
    "-sdown",
    "+odown",
    "-odown",
    "+try-failover",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+promoted-slave",
    "+failover-end",
    "+failover-end-for-timeout",
    "-failover-abort-not-elected",
    "-failover-abort-no-good-slave",
    "+switch-master",
    "+convert-to-slave",
    "+reboot",
    "+tilt",
    "-tilt",
];

/// Subscribes to every Sentinel (on its real port, so partitions do not hide events) until the
/// returned set is dropped or aborted.
pub fn follow(
    sentinels: Vec<(String, SocketAddr)>,
    recorder: Recorder,
    topology: Topology,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for (name, addr) in sentinels {
        set.spawn(follow_one(name, addr, recorder.clone(), topology.clone()));
    }
    set
}

async fn follow_one(name: String, addr: SocketAddr, recorder: Recorder, topology: Topology) {
    loop {
        if let Err(e) = stream_events(&name, addr, &recorder, &topology).await {
            tracing::debug!("Sentinel {name} event stream: {e}; reconnecting");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stream_events(
    name: &str,
    addr: SocketAddr,
    recorder: &Recorder,
    topology: &Topology,
) -> redis::RedisResult<()> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.psubscribe("*").await?;
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let channel = msg.get_channel_name().to_string();
        if !EVENTS.contains(&channel.as_str()) {
            continue;
        }
        let text: String = msg.get_payload().unwrap_or_default();
        let mut op = Op::new(0, 0, Process::Observer, OpType::Info, Function::Sentinel);
        op.node = Some(name.into());
        op.value = json!({"event": channel, "text": text});
        recorder.record(op);
        if channel == "+switch-master" {
            // The topology's change hook records the declaration before clients see it.
            follow_switch(&text, topology);
        }
    }
    Ok(())
}

/// `<name> <old-ip> <old-port> <new-ip> <new-port>`: adopt the new master once.
fn follow_switch(text: &str, topology: &Topology) {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let Some(new) = parts
        .get(3..5)
        .and_then(|p| format!("{}:{}", p[0], p[1]).parse::<SocketAddr>().ok())
    else {
        return;
    };
    let Some(node) = topology.node_at(new) else {
        return;
    };
    topology.set_master(&node);
}

/// The observer record that names the current master and replicas (see the history
/// conventions: checkers read the last one before the final reads).
pub fn topology_op(topology: &Topology) -> Op {
    let master = topology.master().map(|m| m.node).unwrap_or_default();
    let replicas: Vec<String> = topology.replicas().into_iter().map(|e| e.node).collect();
    declaration(&master, &replicas)
}

/// A topology record declaring `master`.
pub fn declaration(master: &str, replicas: &[String]) -> Op {
    let mut op = Op::new(0, 0, Process::Observer, OpType::Info, Function::Topology);
    op.value = json!({"master": master, "replicas": replicas});
    op
}

/// Makes every change of master in `topology` record its declaration in the history first.
pub fn record_master_changes(topology: &Topology, recorder: &Recorder) {
    let recorder = recorder.clone();
    topology.on_master_change(std::sync::Arc::new(move |master, replicas| {
        recorder.record(declaration(master, replicas));
    }));
}
