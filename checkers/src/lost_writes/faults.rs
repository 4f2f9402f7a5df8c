//! The fault narrative around a finding: which nemesis ops (and master changes) happened
//! between two points in time, in words an SRE can check against the history.
//!
//! Shared by lost-writes, wait and split-brain, whose explanations all say what the nemesis did
//! between an acknowledgement and the read that proved it lost.

use crate::history::{Function, History, NemesisValue, Op, OpType, Process};
use serde_json::Value;

/// Nemesis records and master-change observer records (`topology`, `sentinel`) with time in
/// `[from, to]` (ns), in history order. A nemesis fault is cited by its completion (which says
/// what was done); an invocation that never completed is cited itself.
pub fn between(history: &History, from: u64, to: u64) -> Vec<&Op> {
    history
        .non_client_ops()
        .filter(|(_, op)| op.time >= from && op.time <= to)
        .filter(|(pos, op)| match op.process {
            Process::Nemesis => op.op_type != OpType::Invoke || history.partner(*pos).is_none(),
            Process::Observer => matches!(op.f, Function::Topology | Function::Sentinel),
            Process::Client(_) => false,
        })
        .map(|(_, op)| op)
        .collect()
}

/// One record in words: `kill n1 at 1234.5 ms (op 56)`.
pub fn describe(op: &Op) -> String {
    let what = match (op.process, &op.f) {
        (Process::Observer, Function::Topology) => {
            match op.value.get("master").and_then(Value::as_str) {
                Some(m) => format!("topology: master is {m}"),
                None => "topology record".to_string(),
            }
        }
        (Process::Observer, Function::Sentinel) => {
            let event = op.value.get("event").and_then(Value::as_str).unwrap_or("");
            let text = op.value.get("text").and_then(Value::as_str).unwrap_or("");
            format!("sentinel {event} {text}").trim_end().to_string()
        }
        _ => format!("{} {}", op.f, NemesisValue(&op.value).target_words(120)),
    };
    format!(
        "{} at {:.1} ms (op {})",
        what.trim_end(),
        op.time_ms(),
        op.index
    )
}

/// The records of [`between`] as one sentence fragment, at most `limit` of them, e.g.
/// `kill n1 at 10.0 ms (op 4); start n1 at 20.0 ms (op 9)`; `none` when there are none.
pub fn narrative(history: &History, from: u64, to: u64, limit: usize) -> String {
    let ops = between(history, from, to);
    if ops.is_empty() {
        return "none".to_string();
    }
    let mut words: Vec<String> = ops.iter().take(limit).map(|o| describe(o)).collect();
    if ops.len() > limit {
        words.push(format!("and {} more", ops.len() - limit));
    }
    words.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::jsonl::read_str;

    #[test]
    fn cites_completions_and_master_changes_in_the_window() {
        let h = read_str(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}
{"index":1,"time":2000000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
{"index":2,"time":3000000,"process":"observer","type":"info","f":"topology","value":{"master":"n2"}}
{"index":3,"time":4000000,"process":"nemesis","type":"invoke","f":"start","value":["n1"]}
{"index":4,"time":9000000,"process":"nemesis","type":"info","f":"start","value":["n1"]}"#,
        )
        .unwrap()
        .history;
        let n = narrative(&h, 0, 5_000_000, 10);
        assert_eq!(
            n,
            "kill n1 at 2.0 ms (op 1); topology: master is n2 at 3.0 ms (op 2)"
        );
        assert_eq!(narrative(&h, 0, 100, 10), "none");
        assert!(narrative(&h, 0, 10_000_000, 1).ends_with("and 2 more"));
    }
}
