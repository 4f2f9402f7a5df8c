//! The harness's own commands to a server, sent to its real port (never through a proxy, so
//! they work during partitions): INFO, REPLICAOF, probes. Every call is bounded in time.

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Default bound for one admin command.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection whose replies are bounded by our own timeouts only (the library's default
/// response timeout would cut a `WAIT` short).
async fn connect(addr: SocketAddr) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{addr}/"))?;
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// A server that did not answer within the bound: it may be busy (blocked on a slow disk,
/// loading its data set, paused), so a caller may ask again.
#[derive(Debug, thiserror::Error)]
#[error("{addr} did not answer within {timeout:?}")]
pub struct NoAnswer {
    pub addr: SocketAddr,
    pub timeout: Duration,
}

/// Sends one command and returns its reply.
pub async fn command<T: redis::FromRedisValue>(
    addr: SocketAddr,
    cmd: &redis::Cmd,
    timeout: Duration,
) -> Result<T> {
    let run = async {
        let mut conn = connect(addr).await?;
        cmd.query_async::<T>(&mut conn).await
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| NoAnswer { addr, timeout })?
        .with_context(|| format!("command to {addr}"))
}

/// Sends several commands on one connection, in order (a `WAIT` counts acknowledgements of its
/// own connection's writes, so a write and its `WAIT` must share one).
pub async fn pipeline<T: redis::FromRedisValue>(
    addr: SocketAddr,
    pipe: &redis::Pipeline,
    timeout: Duration,
) -> Result<T> {
    let run = async {
        let mut conn = connect(addr).await?;
        pipe.query_async::<T>(&mut conn).await
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| NoAnswer { addr, timeout })?
        .with_context(|| format!("commands to {addr}"))
}

/// `INFO <section>` as key/value pairs.
pub async fn info(
    addr: SocketAddr,
    section: &str,
    timeout: Duration,
) -> Result<BTreeMap<String, String>> {
    let text: String = command(addr, redis::cmd("INFO").arg(section), timeout).await?;
    Ok(parse_info(&text))
}

/// Parses INFO text into key/value pairs (comments and blank lines skipped).
pub fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One replica as its master lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaEntry {
    pub ip: String,
    pub port: u16,
    pub state: String,
    pub offset: i64,
    pub lag: i64,
}

/// The parts of `INFO replication` redline uses. Field names differ across versions
/// (`slave0` / `replica0`, `slave_repl_offset`), so both spellings are read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Replication {
    /// `master` or `slave`/`replica`.
    pub role: String,
    pub master_repl_offset: i64,
    /// On a replica: the offset it has processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_link_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_port: Option<u16>,
    pub sync_in_progress: bool,
    pub replicas: Vec<ReplicaEntry>,
}

impl Replication {
    pub fn is_master(&self) -> bool {
        self.role == "master"
    }

    pub fn link_up(&self) -> bool {
        self.master_link_status.as_deref() == Some("up")
    }

    /// Parses `INFO replication`.
    pub fn parse(info: &BTreeMap<String, String>) -> Replication {
        let int = |k: &str| info.get(k).and_then(|v| v.parse::<i64>().ok());
        let role = info.get("role").cloned().unwrap_or_default();
        let mut numbered: Vec<(u32, ReplicaEntry)> = info
            .iter()
            .filter_map(|(k, v)| {
                let n = k
                    .strip_prefix("slave")
                    .or_else(|| k.strip_prefix("replica"))?;
                let n: u32 = n.parse().ok()?;
                Some((n, parse_replica_entry(v)?))
            })
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        let replicas = numbered.into_iter().map(|(_, e)| e).collect();
        Replication {
            master_repl_offset: int("master_repl_offset").unwrap_or(0),
            replica_offset: int("slave_repl_offset").or_else(|| int("replica_repl_offset")),
            master_link_status: info.get("master_link_status").cloned(),
            master_host: info.get("master_host").cloned(),
            master_port: info.get("master_port").and_then(|p| p.parse().ok()),
            sync_in_progress: info
                .get("master_sync_in_progress")
                .is_some_and(|v| v == "1"),
            role,
            replicas,
        }
    }
}

/// `ip=127.0.0.1,port=7001,state=online,offset=123,lag=0`
fn parse_replica_entry(text: &str) -> Option<ReplicaEntry> {
    let fields: BTreeMap<&str, &str> = text
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    Some(ReplicaEntry {
        ip: fields.get("ip")?.to_string(),
        port: fields.get("port")?.parse().ok()?,
        state: fields.get("state").unwrap_or(&"").to_string(),
        offset: fields
            .get("offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0),
        lag: fields.get("lag").and_then(|o| o.parse().ok()).unwrap_or(0),
    })
}

/// `INFO replication`, parsed.
pub async fn replication(addr: SocketAddr, timeout: Duration) -> Result<Replication> {
    Ok(Replication::parse(
        &info(addr, "replication", timeout).await?,
    ))
}

/// `REPLICAOF host port`, or `REPLICAOF NO ONE` for `None`.
pub async fn replicaof(addr: SocketAddr, master: Option<SocketAddr>) -> Result<()> {
    let mut cmd = redis::cmd("REPLICAOF");
    match master {
        Some(m) => cmd.arg(m.ip().to_string()).arg(m.port()),
        None => cmd.arg("NO").arg("ONE"),
    };
    let _: String = command(addr, &cmd, ADMIN_TIMEOUT).await?;
    Ok(())
}

/// What `INFO server` says the server is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerIdentity {
    /// `redis` or `valkey`.
    pub name: String,
    pub version: String,
}

impl ServerIdentity {
    pub fn parse(info: &BTreeMap<String, String>) -> ServerIdentity {
        let name = info
            .get("server_name")
            .cloned()
            .unwrap_or_else(|| "redis".to_string());
        let version = info
            .get("valkey_version")
            .filter(|_| name == "valkey")
            .or_else(|| info.get("redis_version"))
            .cloned()
            .unwrap_or_default();
        ServerIdentity { name, version }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_master_and_replica_sections_in_both_spellings() {
        let master = parse_info(
            "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
             slave0:ip=127.0.0.1,port=17001,state=online,offset=420,lag=0\r\n\
             replica1:ip=127.0.0.1,port=17002,state=wait_bgsave,offset=0,lag=1\r\n\
             master_repl_offset:420\r\n",
        );
        let r = Replication::parse(&master);
        assert!(r.is_master());
        assert_eq!(r.master_repl_offset, 420);
        assert_eq!(r.replicas.len(), 2);
        assert_eq!(r.replicas[0].port, 17001);
        assert_eq!(r.replicas[1].state, "wait_bgsave");

        let replica = parse_info(
            "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:17000\r\n\
             master_link_status:up\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:400\r\n\
             master_repl_offset:400\r\n",
        );
        let r = Replication::parse(&replica);
        assert!(!r.is_master());
        assert!(r.link_up());
        assert_eq!(r.replica_offset, Some(400));
        assert_eq!(r.master_port, Some(17000));
    }

    #[test]
    fn identifies_valkey_and_redis() {
        let v = parse_info("redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n");
        assert_eq!(
            ServerIdentity::parse(&v),
            ServerIdentity {
                name: "valkey".into(),
                version: "9.1.2".into()
            }
        );
        let r = parse_info("redis_version:7.0.15\r\n");
        assert_eq!(ServerIdentity::parse(&r).version, "7.0.15");
        assert_eq!(ServerIdentity::parse(&r).name, "redis");
    }
}
