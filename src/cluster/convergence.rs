//! Bringing replication back together after the faults are healed, on any backend: one master,
//! every other node replicating from it, every replica at the master's offset, within a bound.

use super::admin::{self, ADMIN_TIMEOUT};
use super::backend::Backend;
use super::redis_conf::MASTER_NAME;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How the cluster ended up before the final reads.
#[derive(Debug, Clone, Serialize)]
pub struct Convergence {
    pub master: String,
    pub converged: bool,
    /// Why convergence was not reached in time.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Without Sentinels the harness's master stays the master and every other node is repointed
/// at it (a deposed master that kept acknowledging writes loses them here, as it would in
/// production); with Sentinels, waits until every Sentinel names the same master. Then waits
/// until every replica is linked and at the master's offset.
pub async fn converge<B: Backend>(cluster: &mut B, timeout: Duration) -> Result<Convergence> {
    let deadline = Instant::now() + timeout;
    if cluster.sentinel_names().is_empty() {
        repoint_replicas(cluster, deadline).await?;
    } else {
        await_sentinel_master(cluster, deadline).await?;
    }
    let sentinels = !cluster.sentinel_names().is_empty();
    let mut last = String::new();
    while Instant::now() < deadline {
        // Sentinel may still be failing over (a promotion that times out is retried with
        // another replica): follow the master the Sentinels name now, not the one they first
        // agreed on.
        if sentinels {
            if let Some(node) = sentinel_agreement(cluster).await {
                cluster.set_master(&node);
            }
        }
        match caught_up(cluster).await {
            Ok(None) => {
                return Ok(Convergence {
                    master: cluster.master(),
                    converged: true,
                    detail: String::new(),
                })
            }
            Ok(Some(why)) => last = why,
            Err(e) => last = format!("{e:#}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Convergence {
        master: cluster.master(),
        converged: false,
        detail: last,
    })
}

/// Points every node at the master. A node started again just now may still be loading its
/// data set (an AOF to replay) and refuse with `LOADING`, and one on a slow disk may be blocked
/// in an fsync (a replica storing the RDB of a full resync) and not answer in time: a busy
/// node is asked again until `deadline` (REPLICAOF is idempotent).
async fn repoint_replicas<B: Backend>(cluster: &mut B, deadline: Instant) -> Result<()> {
    let master = cluster.master();
    let target = cluster.client_addr(&master).context("master address")?;
    for node in cluster.node_names() {
        let addr = cluster.admin_addr(&node).context("node address")?;
        loop {
            match admin::replicaof(addr, (node != master).then_some(target)).await {
                Ok(()) => break,
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("repointing {node} while converging"))
                }
            }
        }
    }
    Ok(())
}

/// Whether a server was too busy to answer: still loading its data set (`LOADING`), or not
/// answering in time; anything else (a refused connection, an error reply) is not asked again.
fn is_busy(e: &anyhow::Error) -> bool {
    let loading = redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading);
    e.chain().any(|c| {
        c.is::<admin::NoAnswer>()
            || c.downcast_ref::<redis::RedisError>()
                .is_some_and(|r| r.kind() == loading || r.is_timeout())
    })
}

async fn await_sentinel_master<B: Backend>(cluster: &mut B, deadline: Instant) -> Result<()> {
    loop {
        if let Some(node) = sentinel_agreement(cluster).await {
            cluster.set_master(&node);
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the Sentinels did not agree on a master after healing");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The master every Sentinel names right now, if they all answer and agree.
async fn sentinel_agreement<B: Backend>(cluster: &B) -> Option<String> {
    let sentinels = cluster.sentinel_addrs();
    let mut answers = Vec::new();
    for (_, addr) in &sentinels {
        let cmd = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER_NAME)
            .clone();
        let reply = admin::command::<Option<(String, u16)>>(*addr, &cmd, ADMIN_TIMEOUT).await;
        let at = reply
            .ok()
            .flatten()
            .and_then(|(host, port)| format!("{host}:{port}").parse::<SocketAddr>().ok());
        answers.push(at.and_then(|a| cluster.node_at(a)));
    }
    let agreed = answers.first().cloned().flatten()?;
    answers
        .iter()
        .all(|a| a.as_deref() == Some(agreed.as_str()))
        .then_some(agreed)
}

/// `None` when every replica is linked to the master and at its offset; else why not.
async fn caught_up<B: Backend>(cluster: &B) -> Result<Option<String>> {
    let name = cluster.master();
    let master = admin::replication(
        cluster.admin_addr(&name).context("master address")?,
        ADMIN_TIMEOUT,
    )
    .await?;
    if !master.is_master() {
        return Ok(Some(format!(
            "{name} is not a master yet (role {})",
            master.role
        )));
    }
    let master_at = cluster.client_addr(&name);
    for node in cluster.node_names().into_iter().filter(|n| *n != name) {
        let r = admin::replication(
            cluster.admin_addr(&node).context("node address")?,
            ADMIN_TIMEOUT,
        )
        .await?;
        let points_at = r
            .master_host
            .as_deref()
            .zip(r.master_port)
            .and_then(|(h, p)| format!("{h}:{p}").parse::<SocketAddr>().ok());
        if r.is_master() || points_at != master_at {
            return Ok(Some(format!("{node} does not replicate from {name} yet")));
        }
        if !r.link_up() {
            return Ok(Some(format!("{node}'s link to {name} is not up")));
        }
        // The master's offset also moves with its own pings; a replica read after the master's
        // figure that is equal or ahead has caught up.
        if r.replica_offset.unwrap_or(-1) < master.master_repl_offset {
            return Ok(Some(format!(
                "{node} is at offset {:?}, the master at {}",
                r.replica_offset, master.master_repl_offset
            )));
        }
    }
    Ok(None)
}

/// Waits until replication actually streams to every replica: a probe write on the master is
/// acknowledged by all of them (`WAIT`). `master_link_status:up` is not enough: Redis starts
/// streaming to a fresh replica only after its first `REPLCONF ACK`, up to a second later, and a
/// workload started before that would see every replica read in that second as stale.
pub async fn await_streaming<B: Backend>(cluster: &B, timeout: Duration) -> Result<()> {
    let replicas = cluster.node_names().len().saturating_sub(1);
    if replicas == 0 {
        return Ok(());
    }
    let master = cluster
        .admin_addr(&cluster.master())
        .context("master address")?;
    let deadline = Instant::now() + timeout;
    let mut acked = 0;
    while Instant::now() < deadline {
        let mut probe = redis::pipe();
        probe.cmd("SET").arg("redline:probe").arg(1).ignore();
        probe.cmd("WAIT").arg(replicas).arg(500);
        (acked,) = admin::pipeline::<(usize,)>(master, &probe, ADMIN_TIMEOUT).await?;
        if acked >= replicas {
            let del = redis::cmd("DEL").arg("redline:probe").clone();
            let _: i64 = admin::command(master, &del, ADMIN_TIMEOUT).await?;
            return Ok(());
        }
    }
    bail!("only {acked} of {replicas} replicas acknowledged a probe write within {timeout:?}: replication is not streaming")
}

/// Waits until every replica reports `master_link_status:up` (used at start-up, before
/// [`await_streaming`]).
pub async fn await_links_up<B: Backend>(cluster: &B, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let master = cluster.master();
    for node in cluster.node_names().into_iter().filter(|n| *n != master) {
        let addr = cluster.admin_addr(&node).context("node address")?;
        loop {
            let r = admin::replication(addr, ADMIN_TIMEOUT).await;
            if r.as_ref().is_ok_and(|r| r.link_up()) {
                break;
            }
            if Instant::now() > deadline {
                let log = cluster
                    .node_dirs()
                    .into_iter()
                    .find(|(n, _)| *n == node)
                    .map(|(_, dir)| dir.join("redis.log").display().to_string())
                    .unwrap_or_default();
                let link = r
                    .map(|r| format!("link {:?}", r.master_link_status))
                    .unwrap_or_else(|e| format!("{e:#}"));
                bail!("replica {node} did not report master_link_status:up within {timeout:?} ({link}); see {log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Waits until each Sentinel (`(name, admin address, log file for the error)`) knows `replicas`
/// replicas and `sentinels - 1` other Sentinels, so a fault injected right after start-up meets
/// a Sentinel quorum that can act.
pub async fn await_sentinels_ready(
    sentinels: &[(String, SocketAddr, String)],
    replicas: usize,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let others = sentinels.len().saturating_sub(1) as i64;
    let field = |r: &[String], k: &str| -> i64 {
        r.chunks(2)
            .find(|kv| kv[0] == k)
            .and_then(|kv| kv.get(1)?.parse().ok())
            .unwrap_or(-1)
    };
    for (name, addr, log) in sentinels {
        loop {
            let cmd = redis::cmd("SENTINEL")
                .arg("master")
                .arg(MASTER_NAME)
                .clone();
            let reply: Result<Vec<String>> = admin::command(*addr, &cmd, ADMIN_TIMEOUT).await;
            if reply.as_ref().is_ok_and(|r| {
                field(r, "num-slaves") >= replicas as i64
                    && field(r, "num-other-sentinels") >= others
            }) {
                break;
            }
            if Instant::now() > deadline {
                bail!("Sentinel {name} did not discover the whole cluster within {timeout:?}; see {log}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node still replaying its AOF answers LOADING, one blocked on a slow disk does not
    /// answer in time: convergence waits for both instead of failing the run; any other
    /// refusal still fails it.
    #[test]
    fn a_busy_node_is_told_apart_from_other_refusals() {
        let loading = redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading);
        let e = anyhow::Error::new(redis::RedisError::from((loading, "loading")))
            .context("command to 127.0.0.1:7000");
        assert!(is_busy(&e));
        let silent = admin::NoAnswer {
            addr: "127.0.0.1:7000".parse().unwrap(),
            timeout: Duration::from_secs(2),
        };
        assert!(is_busy(&anyhow::Error::new(silent)));
        let other = redis::RedisError::from((redis::ErrorKind::Io, "connection refused"));
        assert!(!is_busy(&anyhow::Error::new(other)));
    }
}
