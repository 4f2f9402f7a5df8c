//! One record of a history, as text or as a parsed value, made into an [`Op`].
//!
//! redline's own records parse straight into [`Op`]. Records written by other tools are
//! normalised first: a missing `index` is the record's position; a missing `process` is one
//! anonymous process ([`ANONYMOUS_PROCESS`], as Jepsen reads `nil`); a missing `f` on a record
//! whose value is a list of micro-ops is `txn`; Clojure keyword spellings (`":ok"`) lose their
//! colon. A missing `time` stays missing: whether the history is ordered by its clock or by its
//! order is decided for the whole history ([`super::History::new`]).

use super::{Function, Op};
use serde_json::Value;

/// The client process of records that name none (Elle's paper example): all of them are one
/// process, as `nil` is one process to Jepsen.
pub const ANONYMOUS_PROCESS: u64 = u64::MAX;

/// Parses one JSON record; `position` is its 0-based position, used when it has no index.
pub fn from_json_text(text: &str, position: usize) -> Result<Op, serde_json::Error> {
    if let Ok(mut op) = serde_json::from_str::<Op>(text) {
        if op.f.is_missing() && is_txn_value(&op.value) {
            op.f = Function::Txn;
        }
        return Ok(op);
    }
    let value: Value = serde_json::from_str(text)?;
    from_value(value, position)
}

/// Makes a parsed record (JSON, or EDN turned into JSON) an [`Op`].
pub fn from_value(mut value: Value, position: usize) -> Result<Op, serde_json::Error> {
    normalise(&mut value, position);
    serde_json::from_value(value)
}

/// A value that is a non-empty list of lists: the micro-ops of a transaction.
pub fn is_txn_value(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|mops| !mops.is_empty() && mops.iter().all(Value::is_array))
}

/// Makes records written by other tools fit [`Op`]'s shape.
fn normalise(value: &mut Value, position: usize) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    if !obj.contains_key("index") {
        obj.insert("index".into(), Value::from(position as u64));
    }
    if matches!(obj.get("process"), None | Some(Value::Null)) {
        obj.insert("process".into(), Value::from(ANONYMOUS_PROCESS));
    }
    for field in ["type", "f", "process"] {
        if let Some(Value::String(s)) = obj.get_mut(field) {
            if let Some(stripped) = s.strip_prefix(':') {
                *s = stripped.to_string();
            }
        }
    }
    let missing_f = matches!(obj.get("f"), None | Some(Value::Null));
    if missing_f && obj.get("value").is_some_and(is_txn_value) {
        obj.insert("f".into(), Value::from("txn"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;
    use serde_json::json;

    #[test]
    fn foreign_records_are_normalised() {
        let op = from_value(
            json!({"type": ":ok", "process": ":nemesis", "value": [["append", 1, 2]],
                   "error": ["socket", "Broken pipe"]}),
            7,
        )
        .unwrap();
        assert_eq!(op.index, 7);
        assert_eq!(op.op_type, OpType::Ok);
        assert_eq!(op.f, Function::Txn);
        assert_eq!(op.error.as_deref(), Some(r#"["socket","Broken pipe"]"#));
        assert_eq!(op.time, super::super::op::MISSING_TIME);
    }
}
