//! The fault narrative around a finding: which nemesis ops (and master changes) happened
//! between two points in time, in words an SRE can check against the history.
//!
//! Shared by lost-writes, wait and split-brain, whose explanations all say what the nemesis did
//! between an acknowledgement and the read that proved it lost.
//!
//! [`FaultLog::that_lost`] is the one definition of *the fault that lost a write*, which the
//! lost-writes explanations, the `lost-within=MS` rule (through the checker's statistics) and
//! `scripts/lost-write-ages.py` (through the anomalies' details) all use.

use crate::history::cluster_value::cluster_changes;
use crate::history::{Function, History, NemesisValue, Op, OpType, Process};
use crate::shards::timeline::is_cluster_record;
use serde_json::Value;

/// The faults that can lose an acknowledged write: a process death (kill, power loss), a
/// node that stops (pause, which lets a failover pass it by), cut links, and any change of
/// master. Delays only slow links; slot migration is the cluster topology's own account.
fn can_lose_writes(f: &Function) -> bool {
    matches!(
        f,
        Function::Kill
            | Function::PowerLoss
            | Function::Pause
            | Function::Partition
            | Function::Promote
            | Function::Failover
    )
}

/// One fault that can lose writes: its invocation (cited, and the moment it began), when it
/// was done, the value naming its targets, and until when a partition stayed in force.
#[derive(Debug, Clone)]
struct Chargeable<'h> {
    op: &'h Op,
    /// When it was done ([`done_at`]): the fault acted at some moment between its invocation
    /// and this.
    done: u64,
    value: &'h Value,
    /// For a partition: the completion of the heal that lifted it (`u64::MAX` if none did),
    /// or its invocation when it is not known to have been made.
    lifted: u64,
}

/// The faults of a history that can be charged with losing a write, built once per check.
#[derive(Debug, Clone)]
pub struct FaultLog<'h> {
    faults: Vec<Chargeable<'h>>,
    /// Every `start` invocation, with the value naming its nodes, in history order: when a
    /// node's current process may have begun.
    starts: Vec<(u64, &'h Value)>,
}

impl<'h> FaultLog<'h> {
    /// Every fault of [`can_lose_writes`] that did not fail (a `fail` record did nothing),
    /// in history order.
    ///
    /// A nemesis record that is neither an invocation nor the completion of one (DESIGN's
    /// lone `info kill`; Jepsen writes each nemesis op as two such `info` records) is a fault
    /// of its own, done when it was recorded: for a Jepsen pair, a write sent between the two
    /// records is charged to the second, whose time gives it the larger age, so the window can
    /// only be judged more strictly, never more leniently.
    pub fn new(history: &'h History) -> FaultLog<'h> {
        let ops = history.ops();
        let mut faults: Vec<Chargeable<'h>> = Vec::new();
        let mut starts = Vec::new();
        for (pos, op) in ops.iter().enumerate() {
            let partner = history.partner(pos);
            if op.process != Process::Nemesis || (!op.is_invoke() && partner.is_some()) {
                continue;
            }
            let done = partner.map(|p| &ops[p]);
            let value = match (&op.value, done) {
                (Value::Null, Some(d)) => &d.value,
                (v, _) => v,
            };
            if op.f == Function::Start {
                starts.push((op.time, value));
            }
            let failed =
                op.op_type == OpType::Fail || done.is_some_and(|d| d.op_type == OpType::Fail);
            if can_lose_writes(&op.f) && !failed {
                // A partition not known to have been made in full (its completion carries an
                // error, or it has none) was in force no longer than it is known to have
                // acted: from its invocation. A lone record says the fault was made.
                let made = !op.is_invoke() || done.is_some_and(|d| d.error.is_none());
                faults.push(Chargeable {
                    op,
                    done: done_at(op, done),
                    value,
                    lifted: if made { u64::MAX } else { op.time },
                });
            } else if op.f.heals().contains(&Function::Partition) || op.f == Function::HealAll {
                let at = done.map_or(op.time, |d| d.time);
                for f in faults.iter_mut().filter(|f| f.op.f == Function::Partition) {
                    f.lifted = f.lifted.min(at);
                }
            }
        }
        FaultLog { faults, starts }
    }

    /// When `node`'s process last began before `time` (ns): the invocation of the last
    /// `start` naming it (or naming no node), or 0 when none did. A sample of the node taken
    /// before then describes a process that has since died.
    pub fn started_before(&self, node: &str, time: u64) -> u64 {
        let end = self.starts.partition_point(|(t, _)| *t < time);
        self.starts[..end]
            .iter()
            .rev()
            .find(|(_, value)| NemesisValue(value).involves(node) != Some(false))
            .map_or(0, |(t, _)| *t)
    }

    /// The fault that lost a write acknowledged by `node` (`None`: unrecorded) and invoked at
    /// `invoked` (ns), looked for up to `until` (the final read): the first fault acting on
    /// the node ([`NemesisValue::involves`]; one naming no node acts on every node) that was
    /// not yet done (completed) when the write was invoked, or a partition of the node still
    /// in force then.
    ///
    /// Why the invocation and not the acknowledgement: a server can reply and die a moment
    /// later, so a write's acknowledgement may arrive after the kill that lost it (the reply
    /// was in flight); and a fault over before the write was sent cannot have lost it. Why
    /// its completion and not its invocation: a fault acts at some moment between the two (a
    /// power loss is invoked, then the node's unsynced writes are dropped and it is killed),
    /// so a write sent in between may be lost by it; a nightly run found one, sent 0.02 ms
    /// after a power loss was invoked and acknowledged 6 ms before the fault was done. Why a
    /// partition in force counts: a master cut off from its replicas keeps acknowledging its
    /// clients' writes, and those are exactly the writes the partition's failover and heal
    /// lose (acknowledged *after* the fault began: a negative age). A killed, powered-off or
    /// paused node acknowledges nothing once the fault has acted, so for them only faults
    /// under way or begun since the write was sent count. The fault is cited by its
    /// invocation, the earliest moment it could act.
    pub fn that_lost(&self, node: Option<&str>, invoked: u64, until: u64) -> Option<&'h Op> {
        self.faults
            .iter()
            .filter(|f| f.op.time <= until)
            .filter(|f| f.done >= invoked || (f.op.f == Function::Partition && f.lifted >= invoked))
            .find(|f| match node {
                Some(n) => NemesisValue(f.value).involves(n) != Some(false),
                None => true,
            })
            .map(|f| f.op)
    }
}

/// When the fault `invoked` was done, for charging writes sent before then
/// ([`FaultLog::that_lost`]): its completion's time, when it completed without an error and
/// did not say that it made no master. Otherwise its invocation's: an injection that failed
/// part-way, a failover that gave up waiting for a new master (its completion says
/// `"node": null`), or one that never completed (a nemesis that panicked, a truncated or
/// foreign history) is not known to have acted after it began, and charging later writes to
/// it could hide the fault that really lost them. Counting it from its invocation can at
/// worst leave a write uncharged (a finding reported), never charge it to the wrong fault.
fn done_at(invoked: &Op, done: Option<&Op>) -> u64 {
    let made_no_master = |d: &Op| d.value.get("node").is_some_and(Value::is_null);
    match done {
        Some(d) if d.error.is_none() && !made_no_master(d) => d.time,
        _ => invoked.time,
    }
}

/// Nemesis records and master-change observer records (`topology`, `sentinel`) with time in
/// `[from, to]` (ns), in history order. A nemesis fault is cited by its completion (which says
/// what was done); an invocation that never completed is cited itself.
pub fn between(history: &History, from: u64, to: u64) -> Vec<&Op> {
    history
        .non_client_ops()
        .filter(|(_, op)| op.time >= from && op.time <= to)
        .filter(|(pos, op)| match op.process {
            Process::Nemesis => op.op_type != OpType::Invoke || history.partner(*pos).is_none(),
            // A cluster record that changed no claim or role (a node's state flapping) says
            // nothing about who was master.
            Process::Observer if is_cluster_record(op) => {
                cluster_changes(&op.value).iter().any(|c| {
                    !c.ends_with("cluster_state is ok") && !c.ends_with("cluster_state is fail")
                })
            }
            Process::Observer => matches!(op.f, Function::Topology | Function::Sentinel),
            Process::Client(_) => false,
        })
        .map(|(_, op)| op)
        .collect()
}

/// The records of the Sentinel failovers under way at `at` (ns), up to `to`, in history order
/// and at most `limit`: for each Sentinel whose last `+try-failover` before `at` was not
/// followed (before `at`) by its `+failover-end` or a `-failover-abort-*`, that `+try-failover`
/// and its later events. A write acknowledged meanwhile by the master being failed over is lost
/// if the failover promotes a replica that lacks it, whoever started the failover.
pub fn sentinel_failovers_under_way(history: &History, at: u64, to: u64, limit: usize) -> Vec<&Op> {
    let mut open: std::collections::BTreeMap<&str, Vec<&Op>> = Default::default();
    for (_, op) in history.non_client_ops() {
        if op.time > to || op.process != Process::Observer || op.f != Function::Sentinel {
            continue;
        }
        let sentinel = op.node.as_deref().unwrap_or("?");
        let event = op.value.get("event").and_then(Value::as_str).unwrap_or("");
        if op.time > at {
            if let Some(events) = open.get_mut(sentinel) {
                events.push(op);
            }
        } else if event == "+try-failover" {
            open.insert(sentinel, vec![op]);
        } else if event == "+failover-end" || event.starts_with("-failover-abort") {
            open.remove(sentinel);
        } else if let Some(events) = open.get_mut(sentinel) {
            events.push(op);
        }
    }
    let mut ops: Vec<&Op> = open.into_values().flatten().collect();
    ops.sort_by_key(|o| o.index);
    ops.truncate(limit);
    ops
}

/// One record in words: `kill n1 at 1234.5 ms (op 56)`.
pub fn describe(op: &Op) -> String {
    let what = match (op.process, &op.f) {
        (Process::Observer, Function::Topology) if is_cluster_record(op) => {
            let changes: Vec<&str> = cluster_changes(&op.value)
                .into_iter()
                .filter(|c| !c.contains("cluster_state"))
                .collect();
            format!("cluster: {}", changes.join(", "))
        }
        (Process::Observer, Function::Topology) => {
            match op.value.get("master").and_then(Value::as_str) {
                Some(m) => format!("topology: master is {m}"),
                None => "topology record".to_string(),
            }
        }
        (Process::Observer, Function::Sentinel) => {
            let event = op.value.get("event").and_then(Value::as_str).unwrap_or("");
            let text = op.value.get("text").and_then(Value::as_str).unwrap_or("");
            let sentinel = op.node.as_deref().unwrap_or("");
            let parts = ["sentinel", sentinel, event, text];
            let parts: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
            parts.join(" ")
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

    /// The history of a JSONL text.
    fn history(jsonl: &str) -> History {
        read_str(jsonl).unwrap().history
    }

    /// The index of the fault charged with a write of `node` sent at `ms`, looked for to the end.
    fn charged(log: &FaultLog<'_>, node: Option<&str>, ms: f64) -> Option<u64> {
        log.that_lost(node, (ms * 1e6) as u64, u64::MAX)
            .map(|o| o.index)
    }

    #[test]
    fn cites_completions_and_master_changes_in_the_window() {
        let h = history(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}
{"index":1,"time":2000000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
{"index":2,"time":3000000,"process":"observer","type":"info","f":"topology","value":{"master":"n2"}}
{"index":3,"time":4000000,"process":"nemesis","type":"invoke","f":"start","value":["n1"]}
{"index":4,"time":9000000,"process":"nemesis","type":"info","f":"start","value":["n1"]}"#,
        );
        let n = narrative(&h, 0, 5_000_000, 10);
        assert_eq!(
            n,
            "kill n1 at 2.0 ms (op 1); topology: master is n2 at 3.0 ms (op 2)"
        );
        assert_eq!(narrative(&h, 0, 100, 10), "none");
        assert!(narrative(&h, 0, 10_000_000, 1).ends_with("and 2 more"));
    }

    #[test]
    fn charges_the_first_fault_of_the_node_after_the_invocation() {
        let h = history(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"kill","value":["n2"]}
{"index":1,"time":1500000,"process":"nemesis","type":"info","f":"kill","value":["n2"]}
{"index":2,"time":2000000,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}
{"index":3,"time":2500000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
{"index":4,"time":3000000,"process":"nemesis","type":"invoke","f":"delay","value":{"links":[["n1","n2"]]}}
{"index":5,"time":4000000,"process":"nemesis","type":"invoke","f":"power-loss","value":["n1"]}
{"index":6,"time":4100000,"process":"nemesis","type":"fail","f":"power-loss","value":["n1"]}
{"index":7,"time":5000000,"process":"nemesis","type":"invoke","f":"promote","value":{"candidate":"n2","old_master":"n1"}}"#,
        );
        let log = FaultLog::new(&h);
        let at = |node, ms: u64| charged(&log, node, ms as f64);
        assert_eq!(at(Some("n1"), 0), Some(2), "n2's kill is not n1's");
        assert_eq!(at(None, 0), Some(0), "an unrecorded node: any fault");
        assert_eq!(
            at(Some("n1"), 2),
            Some(2),
            "a fault at the invocation's instant counts"
        );
        assert_eq!(
            at(Some("n1"), 3),
            Some(7),
            "delays and failed faults lose nothing; n1's kill was done at 2.5 ms"
        );
        assert_eq!(
            at(Some("n1"), 6),
            None,
            "a fault that never completed is done at its invocation"
        );
        assert_eq!(
            charged(&log, Some("n2"), 1.2),
            Some(0),
            "a write sent while a fault acts: between its invocation and its completion"
        );
        assert_eq!(
            log.that_lost(Some("n1"), 3_000_000, 4_000_000),
            None,
            "after the final read"
        );
    }

    #[test]
    fn a_node_started_when_the_last_start_naming_it_was_invoked() {
        let h = history(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"start","value":["n1"]}
{"index":1,"time":1500000,"process":"nemesis","type":"info","f":"start","value":["n1"]}
{"index":2,"time":2000000,"process":"nemesis","type":"invoke","f":"start","value":["n2"]}
{"index":3,"time":3000000,"process":"nemesis","type":"invoke","f":"start","value":null}
{"index":4,"time":3100000,"process":"nemesis","type":"info","f":"start","value":null}"#,
        );
        let log = FaultLog::new(&h);
        assert_eq!(log.started_before("n1", 900_000), 0, "never started");
        assert_eq!(
            log.started_before("n1", 2_500_000),
            1_000_000,
            "n2's start is not n1's"
        );
        assert_eq!(log.started_before("n2", 2_500_000), 2_000_000);
        assert_eq!(
            log.started_before("n1", 9_000_000),
            3_000_000,
            "naming no node: all"
        );
    }

    #[test]
    fn a_failover_that_made_no_master_counts_from_its_invocation() {
        // The first failover gave up after 10 s (`"node": null`); the kill at 12 ms lost the
        // write n1 acknowledged meanwhile. The second failover named its new master.
        let h = history(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"failover","value":{"old_master":"n1"}}
{"index":1,"time":11000000,"process":"nemesis","type":"info","f":"failover","value":{"old_master":"n1","node":null}}
{"index":2,"time":12000000,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}
{"index":3,"time":12100000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
{"index":4,"time":20000000,"process":"nemesis","type":"invoke","f":"failover","value":{"old_master":"n2"}}
{"index":5,"time":23000000,"process":"nemesis","type":"info","f":"failover","value":{"old_master":"n2","node":"n3"}}"#,
        );
        let log = FaultLog::new(&h);
        let at = |node, ms: u64| charged(&log, Some(node), ms as f64);
        assert_eq!(at("n1", 5), Some(2), "not the failover that did nothing");
        assert_eq!(
            at("n1", 1),
            Some(0),
            "a write sent as it began may still be its"
        );
        assert_eq!(
            at("n2", 22),
            Some(4),
            "a failover that made n3 master acted until then"
        );
    }

    #[test]
    fn a_partition_that_failed_is_not_in_force_after_it() {
        let h = history(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"partition","value":{"grudge":"isolate-master","cut":[["n1","n2"]]}}
{"index":1,"time":1100000,"process":"nemesis","type":"info","f":"partition","value":null,"error":"nft: rule refused"}
{"index":2,"time":9000000,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}
{"index":3,"time":9100000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}"#,
        );
        let log = FaultLog::new(&h);
        assert_eq!(
            charged(&log, Some("n1"), 3.0),
            Some(2),
            "the kill, not a partition nobody healed because it was never made"
        );
    }

    #[test]
    fn a_lone_nemesis_record_is_a_fault_done_when_recorded() {
        // DESIGN's own example, and Jepsen's way: nemesis ops as `info` records only.
        let h = history(
            r#"{"index":0,"time":1000000,"process":0,"type":"invoke","f":"add","value":1}
{"index":1,"time":1500000,"process":0,"type":"ok","f":"add","value":1}
{"index":2,"time":2000000,"process":"nemesis","type":"info","f":"kill","value":null}
{"index":3,"time":2600000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
{"index":4,"time":3000000,"process":"nemesis","type":"info","f":"start","value":["n1"]}
{"index":5,"time":4000000,"process":"nemesis","type":"fail","f":"kill","value":["n1"]}"#,
        );
        let log = FaultLog::new(&h);
        let at = |ms: f64| charged(&log, Some("n1"), ms);
        assert_eq!(at(1.0), Some(2), "sent before the first record");
        assert_eq!(
            at(2.3),
            Some(3),
            "sent between the two: the second, the larger age"
        );
        assert_eq!(
            at(2.7),
            None,
            "sent after both; a lone `fail` record did nothing"
        );
        assert_eq!(log.started_before("n1", 9_000_000), 3_000_000);
    }

    #[test]
    fn a_failed_start_names_the_nodes_of_its_invocation() {
        let h = history(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"start","value":["n2"]}
{"index":1,"time":1100000,"process":"nemesis","type":"info","f":"start","value":null,"error":"exec failed"}"#,
        );
        let log = FaultLog::new(&h);
        assert_eq!(
            log.started_before("n1", 9_000_000),
            0,
            "n2's start is not n1's"
        );
        assert_eq!(log.started_before("n2", 9_000_000), 1_000_000);
    }

    #[test]
    fn a_partition_in_force_is_charged_until_its_heal_completes() {
        let h = history(
            r#"{"index":0,"time":1000000,"process":"nemesis","type":"invoke","f":"partition","value":{"grudge":"isolate-master","cut":[["n1","n2"]]}}
{"index":1,"time":1100000,"process":"nemesis","type":"info","f":"partition","value":{"grudge":"isolate-master","cut":[["n1","n2"]]}}
{"index":2,"time":5000000,"process":"nemesis","type":"invoke","f":"heal","value":null}
{"index":3,"time":5200000,"process":"nemesis","type":"info","f":"heal","value":"healed"}
{"index":4,"time":9000000,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}"#,
        );
        let log = FaultLog::new(&h);
        let at = |ms: f64| charged(&log, Some("n1"), ms);
        assert_eq!(at(3.0), Some(0), "invoked during the partition");
        assert_eq!(at(5.2), Some(0), "up to the heal's completion");
        assert_eq!(at(5.3), Some(4), "after the heal: the next fault");
    }
}
