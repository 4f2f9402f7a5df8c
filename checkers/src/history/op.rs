//! One operation record of a history: Jepsen's op model, as JSON (DESIGN.md section 3).

use super::Function;
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use thin_vec::ThinVec;

/// Who performed an operation: a client process, the fault injector, or the telemetry observer.
///
/// A client whose operation ended `info` never invokes again: the runner continues its work
/// under a fresh process id, so every process is a single thread of invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
    Observer,
}

impl Process {
    /// The client id, or `None` for the nemesis and the observer.
    pub fn client(self) -> Option<u64> {
        match self {
            Process::Client(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(id) => write!(f, "{id}"),
            Process::Nemesis => f.write_str("nemesis"),
            Process::Observer => f.write_str("observer"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(id) => s.serialize_u64(*id),
            Process::Nemesis => s.serialize_str("nemesis"),
            Process::Observer => s.serialize_str("observer"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;
        impl Visitor<'_> for ProcessVisitor {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a non-negative integer, "nemesis" or "observer""#)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Process, E> {
                u64::try_from(v)
                    .map(Process::Client)
                    .map_err(|_| E::custom(format!("process id {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                match v.trim_start_matches(':') {
                    "nemesis" => Ok(Process::Nemesis),
                    "observer" => Ok(Process::Observer),
                    other => other.parse().map(Process::Client).map_err(|_| {
                        E::custom(format!(
                            r#"unknown process "{v}" (expected an integer, "nemesis" or "observer")"#
                        ))
                    }),
                }
            }
        }
        d.deserialize_any(ProcessVisitor)
    }
}

/// The `type` of an operation record.
///
/// `Ok` took effect, `Fail` certainly did not, `Info` may or may not have: a checker must allow
/// both. An invocation that never completes is treated as `Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// What a WAIT after a write asked for and what it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitInfo {
    /// The `numreplicas` argument of WAIT.
    pub replicas: u64,
    /// The `timeout` argument of WAIT, in milliseconds.
    pub timeout_ms: u64,
    /// WAIT's reply: how many replicas acknowledged the write (completion records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked: Option<u64>,
}

/// What a WAITAOF after a write asked for and what it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitAofInfo {
    /// `numlocal`: 1 asks the master itself to fsync its AOF.
    pub local: u64,
    /// `numreplicas`: how many replicas must have fsynced the write.
    pub replicas: u64,
    pub timeout_ms: u64,
    /// First element of WAITAOF's reply: did the master fsync (0 or 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_local: Option<u64>,
    /// Second element of WAITAOF's reply: how many replicas fsynced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_replicas: Option<u64>,
}

/// One redirect a Redis Cluster client followed before a node served its operation: the node
/// that refused it and where it pointed. A `MOVED` or `ASK` answer proves the command did not
/// run on that node, so following it never hides an outcome; `TRYAGAIN` (a multi-key command
/// during a migration) likewise refused it whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// `moved`, `ask` or `tryagain`.
    pub kind: String,
    /// The node that answered with the redirect.
    pub node: String,
    /// The node the answer pointed to (`moved`, `ask`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// One line of a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Dense, ascending, 0-based position in the history.
    pub index: u64,
    /// Nanoseconds since the run started, from a monotonic clock. A history in which some
    /// record has no time (Knossos's, Elle's) is ordered by its record order instead: the
    /// reader then sets every record's time to its index ([`super::RealtimeOrder`]).
    #[serde(default = "missing_time")]
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub op_type: OpType,
    /// The function: `read`, `write`, `cas`, `add`, `incr`, `txn`, or a nemesis/observer action.
    /// Elle-format histories carry no `f`; the reader fills in `txn` for them.
    #[serde(default)]
    pub f: Function,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "key_as_string"
    )]
    pub key: Option<Arc<str>>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Arc<str>>,
    #[serde(default, rename = "final", skip_serializing_if = "is_false")]
    pub is_final: bool,
    /// Boxed, as `waitaof`: only the wait workloads' writes have one, and inline they took 88
    /// bytes of every record of every history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Box<WaitInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waitaof: Option<Box<WaitAofInfo>>,
    /// Redis Cluster: the hash slot of the operation's keys (every key of a transaction shares
    /// one, through a hash tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u16>,
    /// Redis Cluster: the redirects the client followed before `node` served the operation, in
    /// order (completions only).
    #[serde(default, skip_serializing_if = "ThinVec::is_empty")]
    pub redirects: ThinVec<Redirect>,
    /// The error of a `fail` or `info` completion, as text. Foreign histories may carry any
    /// value here (Jepsen's `[:socket "Broken pipe"]`): it is kept as its JSON text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "error_as_text"
    )]
    pub error: Option<Arc<str>>,
}

/// Marks a record that carried no `time`; the reader replaces it (see [`Op::time`]).
pub const MISSING_TIME: u64 = u64::MAX;

fn missing_time() -> u64 {
    MISSING_TIME
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Keys are strings in redline's histories; Jepsen's independent-key histories use integers.
fn key_as_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.into())),
        Some(Value::Number(n)) => Ok(Some(n.to_string().into())),
        Some(other) => Err(de::Error::custom(format!(
            "key must be a string or an integer, not {other}"
        ))),
    }
}

/// An error is text in redline's histories; any other value is kept as its JSON text.
fn error_as_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.into()),
        Some(other) => Some(other.to_string().into()),
    })
}

impl Op {
    /// A new record with no key, value, node or extras; fill the rest with struct update syntax.
    pub fn new(
        index: u64,
        time: u64,
        process: Process,
        op_type: OpType,
        f: impl Into<Function>,
    ) -> Op {
        Op {
            index,
            time,
            process,
            op_type,
            f: f.into(),
            key: None,
            value: Value::Null,
            node: None,
            is_final: false,
            wait: None,
            waitaof: None,
            slot: None,
            redirects: ThinVec::new(),
            error: None,
        }
    }

    pub fn is_invoke(&self) -> bool {
        self.op_type == OpType::Invoke
    }

    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }

    /// Time in milliseconds since the start of the run, for explanations.
    pub fn time_ms(&self) -> f64 {
        self.time as f64 / 1e6
    }

    /// The value as an integer, when it is one.
    pub fn value_i64(&self) -> Option<i64> {
        self.value.as_i64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of minutes holds tens of millions of records while it is checked, so every byte
    /// of `Op` counts: keys, nodes and errors are shared texts, the rare fields are boxed or
    /// thin. This fails when a new field makes every record bigger; box it instead.
    #[test]
    fn a_record_stays_small() {
        assert!(
            std::mem::size_of::<Op>() <= 160,
            "Op is {} bytes",
            std::mem::size_of::<Op>()
        );
    }
}
