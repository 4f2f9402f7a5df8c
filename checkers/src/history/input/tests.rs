//! The formats, bounds and errors of the reader, on small inputs.

use super::*;
use crate::history::jsonl::read_str;
use crate::history::{OpType, Process, RealtimeOrder};
use std::io::Write;
use std::sync::Arc;

fn ops_of(bytes: &[u8]) -> (Vec<Op>, ReadInfo) {
    let mut ops = Vec::new();
    let info = read_each(bytes, Limits::default(), |o| ops.push(o)).unwrap();
    (ops, info)
}

const JSONL: &str = "{\"index\":0,\"time\":5,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":1}\n\
                     {\"index\":1,\"time\":9,\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"value\":1}\n";

#[test]
fn the_same_history_in_every_format_reads_the_same() {
    let edn_lines = "; Jepsen's history.edn\n{:index 0, :time 5, :process 0, :type :invoke, \
                     :f :add, :value 1}\n{:index 1 :time 9 :process 0 :type :ok :f :add \
                     :value 1}\n";
    let edn_vector = format!("[{}]", edn_lines.replace("; Jepsen's history.edn\n", ""));
    let array = format!("[{}]", JSONL.trim_end().replace('\n', ",\n"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(edn_lines.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let (want, info) = ops_of(JSONL.as_bytes());
    assert_eq!(info.format, Format::Jsonl);
    for (bytes, format, gzip) in [
        (edn_lines.as_bytes(), Format::Edn, false),
        (edn_vector.as_bytes(), Format::Edn, false),
        (array.as_bytes(), Format::JsonArray, false),
        (gz.as_slice(), Format::Edn, true),
    ] {
        let (got, info) = ops_of(bytes);
        assert_eq!(got, want, "{format:?}");
        assert_eq!((info.format, info.gzip), (format, gzip));
    }
}

#[test]
fn errors_name_the_line_a_record_starts_on() {
    let edn = "[{:index 0 :process 0 :type :invoke :f :add :value 1}\n\n; note\n\
               {:index 1 :process 0 :type :okay :f :add :value 1}]";
    let err = read_str(edn).unwrap_err().to_string();
    assert!(err.starts_with("line 4:"), "{err}");
    let array = "[{\"index\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"},\n\
                 {\"index\":1,\"process\":0,\"type\":\"nope\",\"f\":\"read\"}]";
    let err = read_str(array).unwrap_err().to_string();
    assert!(err.starts_with("line 2:"), "{err}");
}

#[test]
fn an_unclosed_string_is_an_error_not_silently_dropped_records() {
    let edn = "{:index 0 :process 0 :type :invoke :f :add :value \"1}\n\
               {:index 1 :process 0 :type :ok :f :add :value 1}\n";
    let err = read_str(edn).unwrap_err().to_string();
    assert!(err.starts_with("line 1:"), "{err}");
    // Cut short on its own last line: a warning, as for JSON lines.
    let edn = "{:index 0 :process 0 :type :invoke :f :add :value 1}\n{:index 1 :proc";
    let read = read_str(edn).unwrap();
    assert_eq!(read.history.len(), 1);
    assert!(
        read.warnings[0].contains("truncated"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn an_endless_line_is_an_error_not_a_leak() {
    // `redline check /dev/zero` grew to 13 GB: a record is bounded.
    let limits = Limits {
        max_record_bytes: 1 << 16,
        max_input_bytes: u64::MAX,
    };
    let err = read_each(io::repeat(0), limits, |_| {}).unwrap_err();
    assert!(err.to_string().contains("longer than 65536 bytes"), "{err}");
    let err = read_each(io::repeat(b'['), limits, |_| {}).unwrap_err();
    assert!(err.to_string().contains("nested more than"), "{err}");
}

#[test]
fn an_endless_input_is_an_error() {
    let limits = Limits {
        max_record_bytes: 1 << 16,
        max_input_bytes: 1 << 20,
    };
    let err = read_each(io::repeat(b'\n'), limits, |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("larger than 1048576 bytes"),
        "{err}"
    );
    // Exactly the limit is fine.
    let exact = vec![b'\n'; 1 << 20];
    assert!(read_each(exact.as_slice(), limits, |_| {}).is_ok());
}

#[test]
fn keywords_structured_errors_and_the_realtime_rule() {
    let edn = "{:process :nemesis :type :info :f :kill :value [:n1]}\n\
               {:process 3 :type :invoke :f :write :value 1}\n\
               {:process 3 :type :info :f :write :value 1 :error [:socket \"Broken pipe\"]}\n";
    let read = read_str(edn).unwrap();
    let ops = read.history.ops();
    assert_eq!(ops[0].process, Process::Nemesis);
    assert_eq!(ops[0].value, serde_json::json!(["n1"]));
    assert_eq!(ops[2].op_type, OpType::Info);
    assert_eq!(ops[2].error.as_deref(), Some(r#"["socket","Broken pipe"]"#));
    // No times: history order, each record's time its index.
    assert_eq!(read.history.realtime(), RealtimeOrder::HistoryOrder);
    assert_eq!(ops.iter().map(|o| o.time).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(
        read_str(JSONL).unwrap().history.realtime(),
        RealtimeOrder::Time
    );
}

#[test]
fn a_completion_timed_before_its_invocation_is_rejected() {
    let text = JSONL.replace("\"time\":9", "\"time\":2");
    let err = read_str(&text).unwrap_err().to_string();
    assert!(err.starts_with("op 1:"), "{err}");
    assert!(err.contains("before its invocation (op 0)"), "{err}");
}

#[test]
fn detection_looks_at_the_first_key() {
    assert_eq!(detect(b"  {\"index\": 0}"), Format::Jsonl);
    assert_eq!(detect(b"{:index 0}"), Format::Edn);
    assert_eq!(detect(b"{\"index\" 0}"), Format::Edn);
    assert_eq!(detect(b"[\n{\"a\":1}]"), Format::JsonArray);
    assert_eq!(detect(b"[{:a 1}]"), Format::Edn);
    assert_eq!(detect(b"; comment\n[{:a 1}]"), Format::Edn);
    assert_eq!(detect(b"(\n{:a 1})"), Format::Edn);
    assert_eq!(detect(b""), Format::Jsonl);
    assert_eq!(detect(b"\0\0"), Format::Jsonl);
}

/// Records that name the same key, node or error share one copy of its text; what they say is
/// unchanged.
#[test]
fn repeated_keys_nodes_and_errors_are_held_once() {
    let text = "{\"index\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"key\":\"s1\",\"value\":1}\n\
                {\"index\":1,\"process\":0,\"type\":\"fail\",\"f\":\"add\",\"key\":\"s1\",\"value\":1,\"node\":\"n1\",\"error\":\"refused\"}\n\
                {\"index\":2,\"process\":1,\"type\":\"invoke\",\"f\":\"add\",\"key\":\"s2\",\"value\":2}\n\
                {\"index\":3,\"process\":1,\"type\":\"fail\",\"f\":\"add\",\"key\":\"s1\",\"value\":2,\"node\":\"n1\",\"error\":\"refused\"}\n";
    let (ops, _) = ops_of(text.as_bytes());
    let text_of = |o: &Op| o.key.as_deref().map(str::to_string);
    assert_eq!(
        ops.iter().map(text_of).collect::<Vec<_>>(),
        ["s1", "s1", "s2", "s1"].map(|k| Some(k.to_string()))
    );
    let same = |a: &Option<Arc<str>>, b: &Option<Arc<str>>| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    assert!(same(&ops[0].key, &ops[1].key) && same(&ops[0].key, &ops[3].key));
    assert!(!same(&ops[0].key, &ops[2].key));
    assert!(same(&ops[1].node, &ops[3].node));
    assert!(same(&ops[1].error, &ops[3].error));
    assert_eq!(ops[3].error.as_deref(), Some("refused"));
}
