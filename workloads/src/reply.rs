//! Replies and arguments: how Redis replies become the JSON values of a history, and how an
//! invocation's JSON values become command arguments. Shared by every workload.

use crate::outcome::Failure;
use redis::Value;
use redline_checkers::Op;
use serde_json::{json, Value as Json};

/// A string, integer or nil reply as JSON: an integer when it parses as one, null for nil,
/// else the raw text (a value no one wrote is left for the checkers to flag, not hidden).
pub fn scalar(v: &Value) -> Json {
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
pub fn set_members(v: &Value) -> Json {
    let items = match v {
        Value::Array(items) | Value::Set(items) => items.as_slice(),
        _ => &[],
    };
    let mut members: Vec<Json> = items.iter().map(scalar).collect();
    members.sort_by_key(|m| (m.as_i64().is_none(), m.as_i64(), m.to_string()));
    Json::Array(members)
}

/// LRANGE as a JSON array in list order.
pub fn list_elements(v: &Value) -> Json {
    match v {
        Value::Array(items) => Json::Array(items.iter().map(scalar).collect()),
        _ => Json::Array(Vec::new()),
    }
}

/// An integer argument of `invoke`, or a not-sent failure (nothing is sent for a malformed op).
pub fn int_arg(invoke: &Op, v: &Json) -> Result<i64, Failure> {
    v.as_i64()
        .ok_or_else(|| Failure::NotSent(format!("{} needs an integer, got {v}", invoke.f)))
}

/// A non-negative integer reply (WAIT's and WAITAOF's counts).
pub fn as_count(v: &Value, what: &str) -> Result<u64, Failure> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(*n as u64),
        other => Err(unexpected(what, other)),
    }
}

/// A reply of the wrong shape after sending: the command ran, but we cannot say how.
pub fn unexpected(what: &str, reply: &Value) -> Failure {
    Failure::Indeterminate(format!("unexpected {what} reply {reply:?}"))
}
