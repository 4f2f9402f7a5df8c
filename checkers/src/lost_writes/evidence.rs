//! What the telemetry says about a node's persistence when a kill or a power loss took it: the
//! sentence a lost write's explanation adds, so that a reader sees *why* the node lost it (a
//! background fsync pending and the AOF buffer unwritten, fsyncs postponed, AOF off) without
//! opening `telemetry.jsonl`.
//!
//! Only the node's last `INFO persistence` sample before the fault is cited, and only when it
//! is at most [`LOOKBACK_NS`] older than the fault (the sampler takes one every 250 ms; a node
//! that did not answer for longer tells nothing about that moment) and was taken after the
//! node's last start (a sample of a process that has since died says nothing about the one
//! the fault took). A sample with nothing
//! worth saying (AOF on, nothing pending, nothing buffered, no postponement, no error) adds no
//! sentence: that is the ordinary state of a node.

use crate::history::{Function, Op};
use crate::telemetry::Telemetry;

/// How old the last sample before a fault may be to speak for it.
pub const LOOKBACK_NS: u64 = 1_000_000_000;

/// `n1 had a background fsync pending and 48 KB of AOF buffer unwritten at the kill
/// (aof_pending_bio_fsync 1, aof_buffer_length 48213 at 5012.3 ms)`, or `None`.
/// `started` (ns): when the node's current process last began ([`FaultLog::started_before`]).
///
/// [`FaultLog::started_before`]: super::faults::FaultLog::started_before
pub fn at_fault(telemetry: &Telemetry, node: &str, fault: &Op, started: u64) -> Option<String> {
    if !matches!(fault.f, Function::Kill | Function::PowerLoss) {
        return None;
    }
    let sample = telemetry.persistence_before(node, fault.time)?;
    if fault.time - sample.time > LOOKBACK_NS || sample.time < started {
        return None;
    }
    let (had, fields) = sample.persistence.notable();
    if had.is_empty() {
        return None;
    }
    Some(format!(
        "{node} had {} at the {} ({} at {:.1} ms, its last INFO persistence sample before it)",
        and_list(&had),
        if fault.f == Function::PowerLoss {
            "power loss"
        } else {
            "kill"
        },
        fields.join(", "),
        sample.time_ms()
    ))
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};
    use serde_json::json;

    fn at(ms: f64, f: &str, node: &str, value: serde_json::Value) -> Op {
        let process = if f == "replication" {
            Process::Observer
        } else {
            Process::Nemesis
        };
        let kind = if f == "replication" {
            OpType::Info
        } else {
            OpType::Invoke
        };
        let mut op = Op::new(0, (ms * 1e6) as u64, process, kind, f);
        op.node = Some(node.into());
        op.value = value;
        op
    }

    #[test]
    fn names_a_pending_fsync_and_the_unwritten_buffer_at_a_kill() {
        let t = Telemetry::from_records(&[at(
            5012.3,
            "replication",
            "n1",
            json!({"persistence": {"aof_enabled": 1, "aof_pending_bio_fsync": 1,
                                   "aof_buffer_length": 48213}}),
        )]);
        let kill = at(5100.0, "kill", "n1", json!(["n1"]));
        assert_eq!(
            at_fault(&t, "n1", &kill, 0).as_deref(),
            Some(
                "n1 had a background fsync pending and 48 KB of AOF buffer unwritten at the \
                 kill (aof_pending_bio_fsync 1, aof_buffer_length 48213 at 5012.3 ms, its last \
                 INFO persistence sample before it)"
            )
        );
        // Too old a sample, another node, another fault: nothing to say.
        assert!(at_fault(&t, "n1", &at(6100.0, "kill", "n1", json!(["n1"])), 0).is_none());
        assert!(at_fault(&t, "n2", &kill, 0).is_none());
        assert!(at_fault(&t, "n1", &at(5100.0, "promote", "n1", json!({})), 0).is_none());
    }

    #[test]
    fn a_sample_of_a_process_that_has_since_died_is_not_cited() {
        // n1 was killed at 5030 ms and started again at 5090 ms: the sample at 5012.3 ms
        // describes the dead process, not the one the kill at 5100 ms took.
        let t = Telemetry::from_records(&[at(
            5012.3,
            "replication",
            "n1",
            json!({"persistence": {"aof_enabled": 1, "aof_pending_bio_fsync": 1}}),
        )]);
        let kill = at(5100.0, "kill", "n1", json!(["n1"]));
        assert!(at_fault(&t, "n1", &kill, 5_090_000_000).is_none());
        assert!(at_fault(&t, "n1", &kill, 5_000_000_000).is_some());
    }

    #[test]
    fn a_quiet_node_adds_nothing_and_aof_off_is_said() {
        let t = Telemetry::from_records(&[
            at(
                100.0,
                "replication",
                "n1",
                json!({"persistence": {"aof_enabled": 1}}),
            ),
            at(
                100.0,
                "replication",
                "n2",
                json!({"persistence": {"aof_enabled": 0, "rdb_changes_since_last_save": 812,
                                       "aof_delayed_fsync": 3}}),
            ),
        ]);
        assert!(at_fault(&t, "n1", &at(200.0, "power-loss", "n1", json!(["n1"])), 0).is_none());
        let words = at_fault(&t, "n2", &at(200.0, "power-loss", "n2", json!(["n2"])), 0).unwrap();
        assert!(
            words.starts_with(
                "n2 had AOF off and 812 changes since its last RDB save at the power loss"
            ),
            "{words}"
        );
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}
