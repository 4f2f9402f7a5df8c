//! Reading `history.jsonl`: one JSON object per line, as redline, Jepsen and Elle write them.
//!
//! A run that crashed may leave half a line at the end of the file; that line is dropped with a
//! warning. Any other line that does not parse is an error naming its 1-based line number.
//! Histories from other tools are normalised: a missing `index` is the record's position, a
//! missing `f` on a record whose value is a list of micro-ops is `txn`, a missing `time` is the
//! record's position (a history without a clock is in real-time order, as Knossos reads it), and
//! Clojure keyword spellings (`":ok"`) are accepted.

use super::{Function, History, HistoryError, Op};
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;

/// A history read from text, with what was tolerated on the way.
#[derive(Debug)]
pub struct ReadHistory {
    pub history: History,
    /// Human-readable notes, e.g. the truncated final line that was ignored.
    pub warnings: Vec<String>,
}

/// Reads a history file.
pub fn read_file(path: &Path) -> Result<ReadHistory, HistoryError> {
    let file = std::fs::File::open(path)?;
    read(std::io::BufReader::with_capacity(1 << 20, file))
}

/// Reads a history from any buffered reader.
pub fn read(input: impl BufRead) -> Result<ReadHistory, HistoryError> {
    let mut ops = Vec::new();
    let warnings = read_each(input, |op| ops.push(op))?;
    Ok(ReadHistory {
        history: History::new(ops)?,
        warnings,
    })
}

/// Parses records one at a time and hands each to `on_op`, in file order, without keeping
/// them: for checkers that build their own compact form of a large history (txn-cycles).
/// Records are normalised exactly as [`read`] does (each gets the position it would have in
/// [`History::ops`]); they are not paired, so the caller pairs them if it needs to. Returns the
/// warnings (a truncated final line); a line that does not parse is an error, as in [`read`].
pub fn read_each(
    mut input: impl BufRead,
    mut on_op: impl FnMut(Op),
) -> Result<Vec<String>, HistoryError> {
    let mut count = 0usize;
    let mut warnings = Vec::new();
    let mut buf = String::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = input.read_line(&mut buf).map_err(|e| HistoryError::Line {
            line: line_no + 1,
            reason: format!("not readable as UTF-8 text: {e}"),
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let ends_with_newline = buf.ends_with('\n');
        let text = buf.trim();
        if text.is_empty() {
            continue;
        }
        match parse_line(text, count) {
            Ok(op) => {
                count += 1;
                on_op(op);
            }
            Err(e) if !ends_with_newline && e.is_eof() => {
                warnings.push(format!(
                    "line {line_no}: truncated final line ignored (the run was probably \
                     interrupted while writing it)"
                ));
            }
            Err(e) => {
                return Err(HistoryError::Line {
                    line: line_no,
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(warnings)
}

/// Parses a history held in memory.
pub fn read_str(text: &str) -> Result<ReadHistory, HistoryError> {
    read(text.as_bytes())
}

/// Parses one line; `position` is the record's 0-based position, used when it has no index.
///
/// redline's own records parse straight into [`Op`]; only records that do not (no index,
/// keyword spellings) take the slower path through a generic JSON value and [`normalise`].
fn parse_line(text: &str, position: usize) -> Result<Op, serde_json::Error> {
    if let Ok(mut op) = serde_json::from_str::<Op>(text) {
        if op.time == super::op::MISSING_TIME {
            // No clock: the history's order is its real-time order (as Knossos reads it).
            op.time = position as u64;
        }
        if op.f.is_missing() && is_txn_value(&op.value) {
            op.f = Function::Txn;
        }
        return Ok(op);
    }
    let mut value: Value = serde_json::from_str(text)?;
    normalise(&mut value, position);
    serde_json::from_value(value)
}

/// A value that is a non-empty list of lists: the micro-ops of a transaction.
fn is_txn_value(value: &Value) -> bool {
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
    if !obj.contains_key("time") {
        obj.insert("time".into(), Value::from(position as u64));
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
    use crate::history::{OpType, Process};

    const GOOD: &str = r#"{"index":0,"time":1200,"process":0,"type":"invoke","f":"write","key":"r3","value":7,"node":"n1","wait":{"replicas":2,"timeout_ms":500}}
{"index":1,"time":1900,"process":0,"type":"ok","f":"write","key":"r3","value":7,"node":"n1","wait":{"replicas":2,"timeout_ms":500,"acked":1}}
{"index":2,"time":2000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
"#;

    #[test]
    fn reads_the_design_example() {
        let read = read_str(GOOD).unwrap();
        assert!(read.warnings.is_empty());
        let ops = read.history.ops();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1].wait.as_ref().and_then(|w| w.acked), Some(1));
        assert_eq!(ops[2].process, Process::Nemesis);
        assert_eq!(read.history.operations().count(), 1);
    }

    #[test]
    fn truncated_final_line_is_a_warning() {
        let text = format!("{GOOD}{{\"index\":3,\"time\":2100,\"proc");
        let read = read_str(&text).unwrap();
        assert_eq!(read.history.len(), 3);
        assert_eq!(read.warnings.len(), 1);
        assert!(
            read.warnings[0].starts_with("line 4:"),
            "{:?}",
            read.warnings
        );
    }

    #[test]
    fn malformed_line_names_its_number() {
        let text = GOOD.replace(r#""type":"ok""#, r#""type":"okay""#);
        let err = read_str(&text).unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }

    #[test]
    fn truncated_line_in_the_middle_is_an_error() {
        let text = format!("{{\"index\":0,\"time\":1\n{GOOD}");
        let err = read_str(&text).unwrap_err();
        assert!(err.to_string().starts_with("line 1:"), "{err}");
    }

    #[test]
    fn a_complete_but_broken_last_line_is_an_error() {
        let text = format!("{GOOD}{{\"index\":3,]\n");
        let err = read_str(&text).unwrap_err();
        assert!(err.to_string().starts_with("line 4:"), "{err}");
    }

    #[test]
    fn reads_elle_format_without_f_or_index() {
        let text = r#"{"type":":invoke","process":0,"value":[["append",1,2],["r",1,null]]}
{"type":":ok","process":0,"value":[["append",1,2],["r",1,[2]]]}
"#;
        let read = read_str(text).unwrap();
        let ops = read.history.ops();
        assert_eq!(ops[0].f, "txn");
        assert_eq!(ops[1].op_type, OpType::Ok);
        assert_eq!(ops[1].index, 1);
    }

    #[test]
    fn records_without_time_are_ordered_by_position() {
        let text = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"index":2,"process":1,"type":"invoke","f":"read"}
"#;
        let read = read_str(text).unwrap();
        let times: Vec<u64> = read.history.ops().iter().map(|o| o.time).collect();
        assert_eq!(times, [0, 1, 2]);
    }

    #[test]
    fn integer_keys_become_strings() {
        let text = r#"{"index":0,"process":0,"type":"invoke","f":"read","key":12}"#;
        let read = read_str(text).unwrap();
        assert_eq!(read.history.ops()[0].key.as_deref(), Some("12"));
    }

    #[test]
    fn a_bad_process_is_an_error_not_a_panic() {
        let text = r#"{"index":0,"process":-1,"type":"invoke","f":"read"}"#;
        let err = read_str(text).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }
}
