//! What the server under test can do, probed on a running server: never inferred from a
//! version string, because forks and backports make version numbers lie (Valkey 9 reports
//! `redis_version:7.2.4`; a distribution may backport a command).
//!
//! [`probe`] asks a running node `COMMAND INFO WAITAOF`, `COMMAND INFO FAILOVER` and
//! `COMMAND INFO CLUSTER|MIGRATESLOTS` (Valkey's atomic slot migration) and `CONFIG GET` of the
//! replication options whose presence differs between servers; [`probe_sentinel`] asks a
//! Sentinel whether its `SENTINEL FAILOVER` takes `COORDINATED` (`COMMAND DOCS SENTINEL`: a
//! data node has no SENTINEL command to describe). [`require`] turns a test's needs (the
//! `waitaof` workload needs WAITAOF; `failover:coordinated` needs FAILOVER;
//! `failover:sentinel-coordinated` needs the Sentinel's COORDINATED) into a clear refusal
//! before any workload runs.

use super::admin::{self, ServerIdentity, ADMIN_TIMEOUT};
use crate::nemesis::spec::{FailoverKind, Fault, NemesisSpec};
use anyhow::{Context, Result};
use redline_workloads::Workload;
use serde::{Deserialize, Serialize};

use std::net::SocketAddr;

/// What a running server supports, as recorded in `test.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    /// `WAITAOF numlocal numreplicas timeout` (Redis 7.2+, every Valkey).
    pub waitaof: bool,
    /// The coordinated `FAILOVER` command (Redis 6.2+, every Valkey).
    pub failover: bool,
    /// `dual-channel-replication-enabled` (Valkey 8+): `None` when the server has no such
    /// option, else whether it is on.
    pub dual_channel_replication: Option<bool>,
    /// `repl-diskless-load` (`disabled`, `on-empty-db`, `swapdb`, ...); `None` when absent.
    pub repl_diskless_load: Option<String>,
    /// Valkey's atomic slot migration (`CLUSTER MIGRATESLOTS`, Valkey 9+).
    #[serde(default)]
    pub atomic_slot_migration: bool,
    /// `SENTINEL FAILOVER <master> COORDINATED` (Valkey 9+'s Sentinel); `None` when the test
    /// ran no Sentinel to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel_coordinated_failover: Option<bool>,
}

/// One command a test may need; a workload declares its own
/// ([`redline_workloads::Workload::needs`]).
pub use redline_workloads::Feature;

impl Features {
    /// Whether the server has `feature`.
    pub fn has(&self, feature: Feature) -> bool {
        match feature {
            Feature::Waitaof => self.waitaof,
            Feature::Failover => self.failover,
            Feature::AtomicSlotMigration => self.atomic_slot_migration,
            Feature::SentinelCoordinatedFailover => {
                self.sentinel_coordinated_failover == Some(true)
            }
        }
    }
}

/// A test's need: which part of the test asks for which feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// What needs it, e.g. `workload waitaof`, `nemesis failover:coordinated`.
    pub by: String,
    pub feature: Feature,
}

/// The features a workload and a nemesis need.
pub fn needs(workload: &dyn Workload, nemesis: &NemesisSpec) -> Vec<Need> {
    let mut needs: Vec<Need> = workload
        .needs()
        .iter()
        .map(|&feature| Need {
            by: format!("workload {}", workload.name()),
            feature,
        })
        .collect();
    let by_faults = [
        (
            FailoverKind::Coordinated,
            "nemesis failover:coordinated",
            Feature::Failover,
        ),
        (
            FailoverKind::SentinelCoordinated,
            "nemesis failover:sentinel-coordinated",
            Feature::SentinelCoordinatedFailover,
        ),
    ];
    for (kind, by, feature) in by_faults {
        if nemesis.faults.contains(&Fault::Failover(kind)) {
            needs.push(Need {
                by: by.to_string(),
                feature,
            });
        }
    }
    if nemesis
        .faults
        .contains(&Fault::Migrate(crate::nemesis::spec::Way::Atomic))
    {
        needs.push(Need {
            by: "nemesis migrate:atomic".to_string(),
            feature: Feature::AtomicSlotMigration,
        });
    }
    needs
}

/// `Ok` when the server has everything the test needs; else a message naming each missing
/// feature, what needs it and the server under test. Exit code 2 territory: the test cannot
/// run here, which says nothing about consistency.
pub fn require(
    features: &Features,
    server: &ServerIdentity,
    workload: &dyn Workload,
    nemesis: &NemesisSpec,
) -> Result<()> {
    let missing: Vec<String> = needs(workload, nemesis)
        .into_iter()
        .filter(|n| !features.has(n.feature))
        .map(|n| {
            format!(
                "{} needs the {f} command, but {} {} (the server under test) has no {f} \
                 command ({}); choose another server with --server-bin (see `redline servers`)",
                n.by,
                display_name(server),
                server.version,
                n.feature.since(),
                f = n.feature,
            )
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", missing.join("\n"))
    }
}

fn display_name(server: &ServerIdentity) -> &str {
    if server.name.is_empty() {
        "the server"
    } else {
        &server.name
    }
}

/// Probes the server at `addr` (its real port, not a proxy).
pub async fn probe(addr: SocketAddr) -> Result<Features> {
    let waitaof = has_command(addr, "WAITAOF").await?;
    let failover = has_command(addr, "FAILOVER").await?;
    let dual = config_get(addr, "dual-channel-replication-enabled").await?;
    let diskless_load = config_get(addr, "repl-diskless-load").await?;
    let atomic_slot_migration = has_command(addr, "CLUSTER|MIGRATESLOTS").await?;
    Ok(Features {
        atomic_slot_migration,
        waitaof,
        failover,
        dual_channel_replication: dual.map(|v| v == "yes"),
        repl_diskless_load: diskless_load,
        sentinel_coordinated_failover: None,
    })
}

/// Whether the Sentinel at `addr` takes `SENTINEL FAILOVER <master> COORDINATED`: its
/// `COMMAND DOCS SENTINEL` lists a `coordinated` argument under `sentinel|failover`. A Sentinel
/// that answers with an error (Redis 6.2 has no `COMMAND DOCS`) has no such option; only a
/// Sentinel that does not answer at all is an error.
pub async fn probe_sentinel(addr: SocketAddr) -> Result<bool> {
    let asked = admin::command::<redis::Value>(
        addr,
        redis::cmd("COMMAND").arg("DOCS").arg("SENTINEL"),
        ADMIN_TIMEOUT,
    )
    .await;
    match asked {
        Ok(reply) => Ok(
            entry(&reply, "sentinel|failover").is_some_and(|docs| has_word(docs, "coordinated"))
        ),
        Err(e) if server_refused(&e) => Ok(false),
        Err(e) => Err(e.context("COMMAND DOCS SENTINEL on a Sentinel")),
    }
}

/// Whether an error is the server's answer to the command itself (`ERR unknown subcommand`,
/// as Redis 6.2, which has no `COMMAND DOCS`, replies), not a failure to reach it or a refusal
/// that says nothing about the command: `NOAUTH`/`WRONGPASS` (the Sentinel wants a password
/// redline does not send), `NOPERM` (its user may not run it), `LOADING`, `BUSY`, ... stay
/// errors.
fn server_refused(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<redis::RedisError>()
            .and_then(|r| r.code())
            .is_some_and(|code| code == "ERR")
    })
}

/// The value after the string `key` anywhere in a `COMMAND DOCS` reply: a flat key-value array
/// in RESP2, a map in RESP3.
fn entry<'a>(reply: &'a redis::Value, key: &str) -> Option<&'a redis::Value> {
    let is_key = |v: &redis::Value| text_of(v).is_some_and(|t| t.eq_ignore_ascii_case(key));
    match reply {
        redis::Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            if is_key(v) {
                items.get(i + 1)
            } else {
                entry(v, key)
            }
        }),
        redis::Value::Map(pairs) => {
            pairs
                .iter()
                .find_map(|(k, v)| if is_key(k) { Some(v) } else { entry(v, key) })
        }
        _ => None,
    }
}

/// Whether some string in `reply` is `word` as a whole (so a summary that mentions it does
/// not count).
fn has_word(reply: &redis::Value, word: &str) -> bool {
    match reply {
        redis::Value::Array(items) => items.iter().any(|v| has_word(v, word)),
        redis::Value::Map(pairs) => pairs
            .iter()
            .any(|(k, v)| has_word(k, word) || has_word(v, word)),
        v => text_of(v).is_some_and(|t| t.eq_ignore_ascii_case(word)),
    }
}

fn text_of(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Probes the server and reads its identity (`INFO server`) in one go.
pub async fn probe_server(addr: SocketAddr) -> Result<(ServerIdentity, Features)> {
    let identity = ServerIdentity::parse(&admin::info(addr, "server", ADMIN_TIMEOUT).await?);
    Ok((identity, probe(addr).await?))
}

/// `COMMAND INFO name`: a known command answers with its description, an unknown one with a
/// single nil (every server since 2.8.13 answers this way).
async fn has_command(addr: SocketAddr, name: &str) -> Result<bool> {
    let reply: redis::Value = admin::command(
        addr,
        redis::cmd("COMMAND").arg("INFO").arg(name),
        ADMIN_TIMEOUT,
    )
    .await
    .with_context(|| format!("COMMAND INFO {name}"))?;
    Ok(command_info_known(&reply))
}

/// Whether a `COMMAND INFO` reply describes a command (vs. `[nil]`).
pub fn command_info_known(reply: &redis::Value) -> bool {
    match reply {
        redis::Value::Array(items) => items
            .first()
            .is_some_and(|v| !matches!(v, redis::Value::Nil)),
        _ => false,
    }
}

/// `CONFIG GET name`: `None` when the server has no such option (empty reply).
async fn config_get(addr: SocketAddr, name: &str) -> Result<Option<String>> {
    let reply: redis::Value = admin::command(
        addr,
        redis::cmd("CONFIG").arg("GET").arg(name),
        ADMIN_TIMEOUT,
    )
    .await
    .with_context(|| format!("CONFIG GET {name}"))?;
    Ok(config_value(&reply, name))
}

/// The value of `name` in a `CONFIG GET` reply (a flat array in RESP2, a map in RESP3).
pub fn config_value(reply: &redis::Value, name: &str) -> Option<String> {
    let text = |v: &redis::Value| redis::from_redis_value_ref::<String>(v).ok();
    match reply {
        redis::Value::Array(items) => items
            .chunks(2)
            .find(|kv| kv.len() == 2 && text(&kv[0]).as_deref() == Some(name))
            .and_then(|kv| text(&kv[1])),
        redis::Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| text(k).as_deref() == Some(name))
            .and_then(|(_, v)| text(v)),
        _ => None,
    }
}

impl Features {
    /// One line for tables: `WAITAOF yes, FAILOVER yes, dual-channel no, diskless-load disabled,
    /// atomic slot migration yes`.
    pub fn summary(&self) -> String {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        format!(
            "WAITAOF {}, FAILOVER {}, dual-channel {}, diskless-load {}, atomic slot migration {}{}",
            yes_no(self.waitaof),
            yes_no(self.failover),
            self.dual_channel_replication
                .map(yes_no)
                .unwrap_or("absent"),
            self.repl_diskless_load.as_deref().unwrap_or("absent"),
            yes_no(self.atomic_slot_migration),
            self.sentinel_coordinated_failover
                .map(|b| format!(", Sentinel COORDINATED failover {}", yes_no(b)))
                .unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    /// The error a server's reply `-{line}` becomes.
    fn server_error(line: &str) -> anyhow::Error {
        match redis::parse_redis_value(format!("-{line}\r\n").as_bytes()) {
            Ok(Value::ServerError(e)) => anyhow::Error::new(redis::RedisError::from(e)),
            other => panic!("not a server error: {other:?}"),
        }
    }

    #[test]
    fn only_an_err_reply_is_an_answer_about_the_command() {
        assert!(server_refused(&server_error(
            "ERR unknown subcommand 'DOCS'"
        )));
        assert!(!server_refused(&server_error(
            "NOAUTH Authentication required."
        )));
        assert!(!server_refused(&server_error(
            "WRONGPASS invalid username-password pair or user is disabled."
        )));
        assert!(!server_refused(&server_error(
            "NOPERM this user has no permissions to run the 'command' command"
        )));
        assert!(!server_refused(&server_error(
            "LOADING Redis is loading the dataset in memory"
        )));
        let unreachable = redis::RedisError::from((redis::ErrorKind::Io, "connection refused"));
        assert!(!server_refused(&anyhow::Error::new(unreachable)));
    }

    #[test]
    fn command_info_tells_known_from_unknown() {
        assert!(!command_info_known(&Value::Array(vec![Value::Nil])));
        assert!(command_info_known(&Value::Array(vec![Value::Array(vec![
            bulk("waitaof"),
            Value::Int(4),
        ])])));
        assert!(!command_info_known(&Value::Array(vec![])));
    }

    #[test]
    fn config_get_reads_present_and_absent_options() {
        let reply = Value::Array(vec![bulk("repl-diskless-load"), bulk("disabled")]);
        assert_eq!(
            config_value(&reply, "repl-diskless-load").as_deref(),
            Some("disabled")
        );
        assert_eq!(
            config_value(&Value::Array(vec![]), "dual-channel-replication-enabled"),
            None
        );
        let map = Value::Map(vec![(bulk("dual-channel-replication-enabled"), bulk("no"))]);
        assert_eq!(
            config_value(&map, "dual-channel-replication-enabled").as_deref(),
            Some("no")
        );
    }

    #[test]
    fn waitaof_on_a_server_without_it_is_refused_with_the_server_named() {
        let redis70 = ServerIdentity {
            name: "redis".into(),
            version: "7.0.15".into(),
        };
        let features = Features {
            failover: true,
            ..Features::default()
        };
        let workload = redline_workloads::by_name("waitaof").unwrap();
        let err = require(&features, &redis70, workload, &NemesisSpec::none()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("workload waitaof needs the WAITAOF command"),
            "{text}"
        );
        assert!(
            text.contains("redis 7.0.15 (the server under test)"),
            "{text}"
        );

        let with = Features {
            waitaof: true,
            ..features
        };
        assert!(require(&with, &redis70, workload, &NemesisSpec::none()).is_ok());
    }

    #[test]
    fn coordinated_failover_needs_failover() {
        let nemesis: NemesisSpec = "failover:coordinated".parse().unwrap();
        let set = redline_workloads::by_name("set").unwrap();
        let none = Features::default();
        let server = ServerIdentity::default();
        let err = require(&none, &server, set, &nemesis).unwrap_err();
        assert!(err.to_string().contains("nemesis failover:coordinated"));
        let sentinel: NemesisSpec = "failover:sentinel".parse().unwrap();
        assert!(require(&none, &server, set, &sentinel).is_ok());
    }

    /// A Sentinel's `COMMAND DOCS SENTINEL`, shaped as Valkey 9.1 and Redis 7.0 answer it
    /// (RESP2, trimmed to the parts the probe reads).
    fn sentinel_docs(failover_args: Vec<Value>, failover_summary: &str) -> Value {
        let arg = |name: &str| Value::Array(vec![bulk("name"), bulk(name), bulk("type")]);
        Value::Array(vec![
            bulk("sentinel"),
            Value::Array(vec![
                bulk("summary"),
                bulk("A container for Redis Sentinel commands."),
                bulk("subcommands"),
                Value::Array(vec![
                    bulk("sentinel|reset"),
                    Value::Array(vec![bulk("arguments"), Value::Array(vec![arg("pattern")])]),
                    bulk("sentinel|failover"),
                    Value::Array(vec![
                        bulk("summary"),
                        bulk(failover_summary),
                        bulk("arguments"),
                        Value::Array(failover_args),
                    ]),
                ]),
            ]),
        ])
    }

    #[test]
    fn sentinel_probe_finds_coordinated_only_as_failovers_argument() {
        let arg = |name: &str| Value::Array(vec![bulk("name"), bulk(name), bulk("type")]);
        let valkey = sentinel_docs(
            vec![arg("primary-name"), arg("coordinated")],
            "Forces a Sentinel failover, or a coordinated one with the `COORDINATED` option.",
        );
        let docs = entry(&valkey, "sentinel|failover").expect("failover's docs");
        assert!(has_word(docs, "coordinated"));
        // Redis 7.0: no such argument; prose that mentions the word does not count.
        let redis = sentinel_docs(
            vec![arg("master-name")],
            "Forces a Sentinel failover, not a coordinated one.",
        );
        let docs = entry(&redis, "sentinel|failover").expect("failover's docs");
        assert!(!has_word(docs, "coordinated"));
        // An argument of another subcommand is not failover's.
        let elsewhere = sentinel_docs(vec![arg("master-name")], "x");
        assert!(entry(&elsewhere, "sentinel|reset").is_some());
        assert!(!has_word(
            entry(&elsewhere, "sentinel|failover").unwrap(),
            "coordinated"
        ));
        assert!(entry(&Value::Array(vec![]), "sentinel|failover").is_none());
    }

    #[test]
    fn sentinel_coordinated_failover_needs_a_sentinel_that_has_it() {
        let nemesis: NemesisSpec = "failover:sentinel-coordinated".parse().unwrap();
        let set = redline_workloads::by_name("set").unwrap();
        let server = ServerIdentity::default();
        for probed in [None, Some(false)] {
            let features = Features {
                sentinel_coordinated_failover: probed,
                ..Features::default()
            };
            let err = require(&features, &server, set, &nemesis).unwrap_err();
            assert!(
                err.to_string()
                    .contains("nemesis failover:sentinel-coordinated needs the SENTINEL FAILOVER"),
                "{err}"
            );
        }
        let valkey = Features {
            sentinel_coordinated_failover: Some(true),
            ..Features::default()
        };
        assert!(require(&valkey, &server, set, &nemesis).is_ok());
    }
}
