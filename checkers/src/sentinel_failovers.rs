//! When a master change that Sentinel reported may have happened, from the Sentinel events a
//! history records (`f: "sentinel"` observer records, one per event per Sentinel).
//!
//! Sentinel publishes `+switch-master` only after its leader promoted a replica, so a topology
//! record that follows it is late, and a client that follows Sentinel may reach the new master
//! first. The promotion cannot precede the failover attempt that made it: the leader's steps
//! come in the order `+try-failover`, `+elected-leader`, `+failover-state-select-slave`,
//! `+selected-slave`, `+failover-state-send-slaveof-noone`, `+promoted-slave` (sentinel.c), and
//! the promotion is the last of them. So the earliest such step that any Sentinel recorded
//! since the previous master change is a lower bound for the change, as long as the attempt it
//! belongs to was not abandoned before promoting: a Sentinel that reports
//! `-failover-abort-not-elected` or `-failover-abort-no-good-slave` promoted nothing in that
//! attempt, and its steps no longer count (a retry starts anew).

use crate::history::{Function, Op};
use std::collections::BTreeMap;

/// A leader's steps that precede its promotion of a replica.
const STEPS: &[&str] = &[
    "+try-failover",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+promoted-slave",
];

/// Events that end an attempt before anything was promoted.
const ABORTS: &[&str] = &[
    "-failover-abort-not-elected",
    "-failover-abort-no-good-slave",
];

/// The Sentinel events seen since the last master change.
#[derive(Debug, Default)]
pub struct FailoverStarts {
    /// Whether any Sentinel event was recorded.
    spoke: bool,
    /// Per Sentinel, the first step of its attempt under way.
    attempts: BTreeMap<String, u64>,
}

impl FailoverStarts {
    /// Takes note of `op` if it is a Sentinel event.
    pub fn observe(&mut self, op: &Op) {
        if op.f != Function::Sentinel {
            return;
        }
        self.spoke = true;
        let Some(event) = op.value.get("event").and_then(|e| e.as_str()) else {
            return;
        };
        let sentinel = op.node.as_deref().unwrap_or_default().to_string();
        if STEPS.contains(&event) {
            self.attempts.entry(sentinel).or_insert(op.time);
        } else if ABORTS.contains(&event) {
            self.attempts.remove(&sentinel);
        }
    }

    /// Whether Sentinel reported anything since the last change (then a topology record is
    /// Sentinel's news, late).
    pub fn spoke(&self) -> bool {
        self.spoke
    }

    /// The earliest step of an attempt still standing, if any.
    pub fn earliest(&self) -> Option<u64> {
        self.attempts.values().min().copied()
    }

    /// Forgets everything: a master change was recorded.
    pub fn reset(&mut self) {
        *self = FailoverStarts::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(ms: u64, sentinel: &str, event: &str) -> Op {
        serde_json::from_value(json!({
            "index": 0, "time": ms, "process": "observer", "type": "info", "f": "sentinel",
            "value": {"event": event, "text": ""}, "node": sentinel,
        }))
        .expect("sentinel record")
    }

    #[test]
    fn the_first_step_of_a_standing_attempt_bounds_the_change() {
        let mut starts = FailoverStarts::default();
        assert!(!starts.spoke());
        starts.observe(&event(5, "s1", "+sdown"));
        assert!(starts.spoke());
        assert_eq!(starts.earliest(), None);
        starts.observe(&event(10, "s2", "+elected-leader"));
        starts.observe(&event(12, "s1", "+try-failover"));
        starts.observe(&event(14, "s2", "+promoted-slave"));
        assert_eq!(starts.earliest(), Some(10));
    }

    #[test]
    fn an_aborted_attempt_no_longer_counts_and_a_retry_starts_anew() {
        let mut starts = FailoverStarts::default();
        starts.observe(&event(10, "s1", "+try-failover"));
        starts.observe(&event(11, "s1", "-failover-abort-no-good-slave"));
        assert_eq!(starts.earliest(), None);
        starts.observe(&event(20, "s2", "+try-failover"));
        starts.observe(&event(21, "s2", "-failover-abort-not-elected"));
        starts.observe(&event(30, "s1", "+try-failover"));
        assert_eq!(starts.earliest(), Some(30));
        starts.reset();
        assert!(!starts.spoke());
        assert_eq!(starts.earliest(), None);
    }
}
