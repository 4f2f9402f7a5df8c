//! How each operation becomes Redis commands, and how the replies become a completion value.
//!
//! | f | commands | sent to |
//! |---|---|---|
//! | `add` | `SADD key v`, then `WAIT n t` or `WAITAOF l n t` when the invoke asks | master |
//! | `read` (set, wait, waitaof) | `SMEMBERS key` | per `read_from` |
//! | `write` | `SET key v` | master |
//! | `cas` | `EVAL` of [`CAS_SCRIPT`] | master |
//! | `read` (register, counter) | `GET key` | per `read_from` |
//! | `incr` | `INCRBY key delta` | master |
//! | `txn` | `MULTI`, `RPUSH la:k v` / `LRANGE la:k 0 -1`..., `EXEC` | master; replicas per `read_from` when read-only |

use crate::client::{server_error_to_failure, Attempt, Client};
use crate::generator::list_key;
use crate::outcome::{Effect, Failure};
use crate::topology::Endpoint;
use redis::{Cmd, Value};
use redline_checkers::{Function, Op, WorkloadKind};
use serde_json::{json, Value as Json};

/// Compare-and-set on the master. `ARGV[1]` is `nil` when the expected value is "absent",
/// else `val` with the expected value in `ARGV[2]`; `ARGV[3]` is the new value. Returns 1 when
/// it wrote, 0 when the compare failed. The only write is the last call, so an error reply
/// means nothing was written (see [`crate::outcome`]).
pub const CAS_SCRIPT: &str = r#"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == 'nil' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"#;

/// What a successful attempt produced.
#[derive(Debug, Default)]
pub(crate) struct Done {
    /// The completion's value, when it differs from the invocation's (reads, txns).
    pub value: Option<Json>,
    /// WAIT's reply.
    pub wait_acked: Option<u64>,
    /// WAITAOF's reply: (local fsynced, replicas fsynced).
    pub waitaof_acked: Option<(u64, u64)>,
    /// A cas whose compare did not match: completes `fail` with error `mismatch`.
    pub mismatch: bool,
}

/// Whether `op` can change data: everything but reads and read-only transactions.
pub(crate) fn effect(op: &Op) -> Effect {
    let read_only = match op.f {
        Function::Read => true,
        Function::Txn => op.value.as_array().is_some_and(|m| {
            m.iter()
                .all(|m| m.get(0).and_then(Json::as_str) == Some("r"))
        }),
        _ => false,
    };
    if read_only {
        Effect::Read
    } else {
        Effect::Write
    }
}

/// Runs `invoke` on `node` (or wherever routing sends it) and interprets the replies.
pub(crate) async fn execute(
    client: &mut Client,
    invoke: &Op,
    node: Option<&Endpoint>,
    attempt: &mut Attempt,
) -> Result<Done, Failure> {
    let target = match (node, effect(invoke)) {
        (Some(node), _) => node.clone(),
        (None, Effect::Read) => client.read_target().await?,
        (None, Effect::Write) => client.master().await?,
    };
    if invoke.f == Function::Txn {
        return transaction(client, &target, invoke, attempt).await;
    }
    let key = invoke
        .key
        .clone()
        .ok_or_else(|| Failure::NotSent(format!("{} without a key", invoke.f)))?;
    let set_kind = matches!(
        client.cfg.kind,
        WorkloadKind::Set | WorkloadKind::Wait | WorkloadKind::WaitAof
    );
    let conn = client.connection(&target, attempt).await?;
    match &invoke.f {
        Function::Read if set_kind => {
            let reply = conn.send(redis::cmd("SMEMBERS").arg(&key), attempt).await?;
            Ok(read(set_members(&reply)))
        }
        Function::Read => {
            let reply = conn.send(redis::cmd("GET").arg(&key), attempt).await?;
            Ok(read(scalar(&reply)))
        }
        Function::Write => {
            let value = int_arg(invoke, &invoke.value)?;
            conn.send(redis::cmd("SET").arg(&key).arg(value), attempt)
                .await?;
            Ok(Done::default())
        }
        Function::Incr => {
            let delta = int_arg(invoke, &invoke.value)?;
            conn.send(redis::cmd("INCRBY").arg(&key).arg(delta), attempt)
                .await?;
            Ok(Done::default())
        }
        Function::Cas => cas(conn, &key, invoke, attempt).await,
        Function::Add => add(conn, &key, invoke, attempt).await,
        other => Err(Failure::NotSent(format!("unknown operation {other:?}"))),
    }
}

fn read(value: Json) -> Done {
    Done {
        value: Some(value),
        ..Done::default()
    }
}

/// SADD, then WAIT or WAITAOF on the same connection when the invocation asks for it.
async fn add(
    conn: &mut crate::client::Connection,
    key: &str,
    invoke: &Op,
    attempt: &mut Attempt,
) -> Result<Done, Failure> {
    let element = int_arg(invoke, &invoke.value)?;
    if invoke.waitaof.is_some() && !waitaof_supported(conn).await? {
        // Refuse before the SADD: failing after it would call an applied add `fail`.
        return Err(Failure::Rejected {
            code: "ERR".into(),
            message: "unknown command 'WAITAOF' (COMMAND INFO, asked before the add)".into(),
        });
    }
    conn.send(redis::cmd("SADD").arg(key).arg(element), attempt)
        .await?;
    attempt.applied = true;
    let mut done = Done::default();
    if let Some(wait) = &invoke.wait {
        let cmd = redis::cmd("WAIT")
            .arg(wait.replicas)
            .arg(wait.timeout_ms)
            .clone();
        let reply = conn.send(&cmd, attempt).await?;
        done.wait_acked = Some(as_count(&reply, "WAIT")?);
    }
    if let Some(w) = &invoke.waitaof {
        let cmd = redis::cmd("WAITAOF")
            .arg(w.local)
            .arg(w.replicas)
            .arg(w.timeout_ms)
            .clone();
        let reply = conn.send(&cmd, attempt).await?;
        done.waitaof_acked = Some(match &reply {
            Value::Array(items) if items.len() == 2 => (
                as_count(&items[0], "WAITAOF")?,
                as_count(&items[1], "WAITAOF")?,
            ),
            other => return Err(unexpected("WAITAOF", other)),
        });
    }
    Ok(done)
}

/// Asks the node once per connection whether it knows WAITAOF (Redis >= 7.2).
async fn waitaof_supported(conn: &mut crate::client::Connection) -> Result<bool, Failure> {
    if let Some(known) = conn.waitaof {
        return Ok(known);
    }
    let reply = conn
        .probe(redis::cmd("COMMAND").arg("INFO").arg("WAITAOF"))
        .await?;
    let known =
        matches!(&reply, Value::Array(items) if items.first().is_some_and(|i| *i != Value::Nil));
    conn.waitaof = Some(known);
    Ok(known)
}

/// Compare-and-set via [`CAS_SCRIPT`]; value `[old, new]`, `old` null for "absent".
async fn cas(
    conn: &mut crate::client::Connection,
    key: &str,
    invoke: &Op,
    attempt: &mut Attempt,
) -> Result<Done, Failure> {
    let pair = invoke.value.as_array().filter(|p| p.len() == 2);
    let (old, new) = match pair {
        Some(p) => (&p[0], int_arg(invoke, &p[1])?),
        None => {
            return Err(Failure::NotSent(format!(
                "cas value {} is not [old, new]",
                invoke.value
            )))
        }
    };
    let (mode, old) = if old.is_null() {
        ("nil", String::new())
    } else {
        ("val", int_arg(invoke, old)?.to_string())
    };
    let cmd = redis::cmd("EVAL")
        .arg(CAS_SCRIPT)
        .arg(1)
        .arg(key)
        .arg(mode)
        .arg(old)
        .arg(new)
        .clone();
    match conn.send(&cmd, attempt).await? {
        Value::Int(1) => Ok(Done::default()),
        Value::Int(0) => Ok(Done {
            mismatch: true,
            ..Done::default()
        }),
        other => Err(unexpected("cas script", &other)),
    }
}

/// A list-append transaction as MULTI/EXEC in one pipeline; reads are filled in from EXEC.
async fn transaction(
    client: &mut Client,
    target: &Endpoint,
    invoke: &Op,
    attempt: &mut Attempt,
) -> Result<Done, Failure> {
    let micro_ops = invoke.value.as_array().cloned().unwrap_or_default();
    let mut pipeline = redis::pipe();
    pipeline.cmd("MULTI");
    for m in &micro_ops {
        pipeline.add_command(micro_op_command(m)?);
    }
    pipeline.cmd("EXEC");
    let count = micro_ops.len() + 2;
    let conn = client.connection(target, attempt).await?;
    let mut replies = conn.send_pipeline(&pipeline, count, attempt).await?;
    let exec = match replies.pop() {
        Some(reply) if replies.len() + 1 == count => server_error_to_failure(reply)?,
        _ => return Err(Failure::Indeterminate("transaction replies missing".into())),
    };
    let results = match exec {
        Value::Array(results) if results.len() == micro_ops.len() => results,
        other => return Err(Failure::Indeterminate(format!("EXEC replied {other:?}"))),
    };
    let mut filled = Vec::with_capacity(micro_ops.len());
    for (m, result) in micro_ops.iter().zip(results) {
        // A command that failed inside EXEC does not undo the others: the transaction was
        // partly applied, which the history cannot say, so it is indeterminate.
        let result = server_error_to_failure(result)
            .map_err(|e| Failure::Indeterminate(format!("inside EXEC: {}", e.message())))?;
        if m.get(0).and_then(Json::as_str) == Some("r") {
            filled.push(json!(["r", m[1].clone(), list_elements(&result)]));
        } else {
            filled.push(m.clone());
        }
    }
    Ok(read(Json::Array(filled)))
}

/// `["append", k, v]` → `RPUSH la:k v`; `["r", k, _]` → `LRANGE la:k 0 -1`.
fn micro_op_command(m: &Json) -> Result<Cmd, Failure> {
    let bad = || Failure::NotSent(format!("malformed micro-op {m}"));
    let key = match m.get(1) {
        Some(Json::Number(n)) => list_key(n.as_u64().ok_or_else(bad)?),
        Some(Json::String(s)) => format!("la:{s}"),
        _ => return Err(bad()),
    };
    match (m.get(0).and_then(Json::as_str), m.get(2)) {
        (Some("append"), Some(v)) => Ok(redis::cmd("RPUSH")
            .arg(key)
            .arg(v.as_i64().ok_or_else(bad)?)
            .clone()),
        (Some("r"), _) => Ok(redis::cmd("LRANGE").arg(key).arg(0).arg(-1).clone()),
        _ => Err(bad()),
    }
}

/// An integer argument of `invoke`, or a NotSent failure (nothing is sent for a malformed op).
fn int_arg(invoke: &Op, v: &Json) -> Result<i64, Failure> {
    v.as_i64()
        .ok_or_else(|| Failure::NotSent(format!("{} needs an integer, got {v}", invoke.f)))
}

fn as_count(v: &Value, what: &str) -> Result<u64, Failure> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(*n as u64),
        other => Err(unexpected(what, other)),
    }
}

/// A reply of the wrong shape after sending: the command ran, but we cannot say how.
fn unexpected(what: &str, reply: &Value) -> Failure {
    Failure::Indeterminate(format!("unexpected {what} reply {reply:?}"))
}

/// A string, integer or nil reply as JSON: an integer when it parses as one, null for nil,
/// else the raw text (a value no one wrote is left for the checkers to flag, not hidden).
pub(crate) fn scalar(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Int(n) => json!(n),
        Value::BulkString(bytes) => text(&String::from_utf8_lossy(bytes)),
        Value::SimpleString(s) => text(s),
        other => json!(format!("{other:?}")),
    }
}

fn text(s: &str) -> Json {
    s.parse::<i64>()
        .map(|n| json!(n))
        .unwrap_or_else(|_| json!(s))
}

/// SMEMBERS as a JSON array: integers in ascending order (then any non-integers).
pub(crate) fn set_members(v: &Value) -> Json {
    let items = match v {
        Value::Array(items) | Value::Set(items) => items.as_slice(),
        _ => &[],
    };
    let mut members: Vec<Json> = items.iter().map(scalar).collect();
    members.sort_by_key(|m| (m.as_i64().is_none(), m.as_i64(), m.to_string()));
    Json::Array(members)
}

/// LRANGE as a JSON array in list order.
fn list_elements(v: &Value) -> Json {
    match v {
        Value::Array(items) => Json::Array(items.iter().map(scalar).collect()),
        _ => Json::Array(Vec::new()),
    }
}
