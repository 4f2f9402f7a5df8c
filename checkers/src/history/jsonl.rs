//! Reading a whole history into a [`History`]: the entry points most callers use.
//!
//! The name is historical: every format [`super::input`] detects is read here (JSON lines,
//! a JSON array, EDN, gzipped or not), with its bounds. A run that crashed may leave half a
//! record at the end of the file; that record is dropped with a warning. Any other record that
//! does not parse is an error naming its 1-based line number.

use super::input::{self, Format, Limits};
use super::{History, HistoryError, Op};
use std::io::Read;
use std::path::Path;

/// A history read from text, with what was tolerated on the way.
#[derive(Debug)]
pub struct ReadHistory {
    pub history: History,
    /// Human-readable notes, e.g. the truncated final line that was ignored.
    pub warnings: Vec<String>,
    /// The format the text was in.
    pub format: Format,
    /// Whether it was gzipped.
    pub gzip: bool,
}

/// Reads a history file.
pub fn read_file(path: &Path) -> Result<ReadHistory, HistoryError> {
    read(std::fs::File::open(path)?)
}

/// Reads a history from any reader, with the default [`Limits`].
pub fn read(input: impl Read) -> Result<ReadHistory, HistoryError> {
    let mut ops = Vec::new();
    let info = input::read_each(input, Limits::default(), |op| ops.push(op))?;
    Ok(ReadHistory {
        history: History::new(ops)?,
        warnings: info.warnings,
        format: info.format,
        gzip: info.gzip,
    })
}

/// Parses records one at a time and hands each to `on_op`, in file order, without keeping
/// them: for checkers that build their own compact form of a large history (txn-cycles).
/// Records are normalised exactly as [`read`] does; they are not paired, so the caller pairs
/// them if it needs to. Returns the warnings (a truncated final record); a record that does
/// not parse is an error, as in [`read`].
pub fn read_each(input: impl Read, on_op: impl FnMut(Op)) -> Result<Vec<String>, HistoryError> {
    Ok(input::read_each(input, Limits::default(), on_op)?.warnings)
}

/// Parses a history held in memory.
pub fn read_str(text: &str) -> Result<ReadHistory, HistoryError> {
    read(text.as_bytes())
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
