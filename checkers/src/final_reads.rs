//! The final reads after healing, and which node was the master for them.
//!
//! After the nemesis heals everything the harness reads every key from every node, marking
//! those client operations `"final": true`. Loss is judged against the read of the
//! *post-failover master*: the node named by the last `topology` observer record before the
//! first final read (the harness always writes one right before the final reads). A history
//! with no topology record (say, from another tool) falls back to the node of the first final
//! read, and says so in a note.
//!
//! On a Redis Cluster each key has its own "master": the primary that serves the key's slot in
//! the last cluster topology record before the first final read (the harness writes one after
//! the cluster converged), found by the slot the final reads carry.
//!
//! This module also reads "master declarations" out of a history (topology records naming a
//! new master, `promote` / `failover` nemesis ops naming their target), which the split-brain
//! checker uses to tell a failback from two masters at once.

use crate::history::{Function, History, NemesisValue, Op, OpType, Operation, Process};
use crate::sentinel_failovers::FailoverStarts;
use crate::shards::timeline::{is_cluster_record, Snapshot, Timeline};
use std::collections::{HashMap, HashSet};

/// How the post-failover master was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterSource {
    /// Named by the topology record with this index, the last one before the first final read.
    Topology { index: u64 },
    /// No topology record precedes the final reads: the node of the first final read (index of
    /// its invocation) is taken as the master.
    FirstFinalRead { index: u64 },
}

/// The node whose final reads decide loss, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterChoice {
    pub node: String,
    pub source: MasterSource,
}

impl MasterChoice {
    /// A short phrase for explanations: `n2 (topology record op 812)`.
    pub fn describe(&self) -> String {
        match self.source {
            MasterSource::Topology { index } => {
                format!("{} (topology record op {index})", self.node)
            }
            MasterSource::FirstFinalRead { index } => format!(
                "{} (no topology record before the final reads: taken from the first final \
                 read, op {index})",
                self.node
            ),
        }
    }
}

/// Every final client operation of a history, with the post-failover master.
#[derive(Debug, Clone)]
pub struct FinalReads<'a> {
    /// `None` only when the history has no final operation at all.
    pub master: Option<MasterChoice>,
    /// Final operations (any outcome), in invocation order.
    pub ops: Vec<Operation<'a>>,
    /// What a reader should know about how the master was chosen.
    pub notes: Vec<String>,
    /// On a Redis Cluster: the topology record that names each slot's primary at the end.
    pub owners: Option<Snapshot>,
    /// Positions in `ops` by key, and the invocation indices of `ops`: a run that moved
    /// through thousands of keys has thousands of final reads, and each key's lookups must not
    /// scan them all.
    by_key: HashMap<Option<&'a str>, Vec<usize>>,
    invocations: HashSet<u64>,
}

/// The master named by a `topology` observer record (`value.master`), if `op` is one.
pub fn topology_master(op: &Op) -> Option<&str> {
    if op.process != Process::Observer || op.f != Function::Topology {
        return None;
    }
    op.value.get("master").and_then(|m| m.as_str())
}

impl<'a> FinalReads<'a> {
    /// Collects the final operations of `history` (`final` on the invocation or the completion)
    /// and chooses the post-failover master.
    pub fn from_history(history: &'a History) -> FinalReads<'a> {
        let mut ops: Vec<Operation<'a>> = history
            .operations()
            .filter(|o| o.invoke.is_final || o.completion.is_some_and(|c| c.is_final))
            .collect();
        let mut notes = Vec::new();
        // Histories of other tools (Jepsen's set) mark no read final: as Jepsen's set checker
        // does, the last successful read stands for the final read. Only for histories without
        // redline's topology records: a redline history without final reads was interrupted,
        // and its last read may be a lagging replica's.
        let foreign = !history
            .ops()
            .iter()
            .any(|o| topology_master(o).is_some() || is_cluster_record(o));
        if ops.is_empty() && foreign {
            ops.extend(last_successful_reads(history, &mut notes));
        }
        let owners = ops.first().and_then(|first| {
            Timeline::of(history)
                .before(first.invoke.time.saturating_add(1))
                .cloned()
        });
        let master = ops
            .first()
            .filter(|_| owners.is_none())
            .map(|first| choose_master(history, first, &mut notes));
        let mut by_key: HashMap<Option<&'a str>, Vec<usize>> = HashMap::new();
        for (i, o) in ops.iter().enumerate() {
            by_key.entry(o.invoke.key.as_deref()).or_default().push(i);
        }
        let invocations = ops.iter().map(|o| o.invoke.index).collect();
        FinalReads {
            master,
            ops,
            notes,
            owners,
            by_key,
            invocations,
        }
    }

    /// The post-failover master's node name.
    pub fn master_node(&self) -> Option<&str> {
        self.master.as_ref().map(|m| m.node.as_str())
    }

    /// The node whose final read of `key` decides loss: the post-failover master, or on a
    /// cluster the primary serving the key's slot at the end.
    pub fn master_for(&self, key: Option<&str>) -> Option<String> {
        let Some(owners) = &self.owners else {
            return self.master_node().map(str::to_string);
        };
        let positions = self.by_key.get(&key).map_or(&[][..], Vec::as_slice);
        let slot = positions.iter().find_map(|&i| self.ops[i].invoke.slot)?;
        Timeline::owner_in(owners, slot).map(str::to_string)
    }

    /// [`FinalReads::master_for`] in words, for explanations.
    pub fn describe_master(&self, key: Option<&str>) -> String {
        match (&self.owners, self.master_for(key)) {
            (Some(owners), Some(node)) => format!(
                "{node} (the primary of the key's slot in topology record op {})",
                owners.index
            ),
            (None, _) => self
                .master
                .as_ref()
                .map_or("?".to_string(), MasterChoice::describe),
            (Some(owners), None) => format!(
                "? (no primary serves the key's slot in topology record op {})",
                owners.index
            ),
        }
    }

    /// The master's successful final read of `key`: the last one when
    /// the harness retried. `None` when the master's final read failed or is missing.
    pub fn master_read(&self, key: Option<&str>) -> Option<Operation<'a>> {
        let master = self.master_for(key)?;
        // A final read that names no node (a foreign history) belongs to the master chosen
        // from it, whose name is then empty.
        self.ok_reads(key)
            .filter(|o| node_of(o).unwrap_or("") == master)
            .last()
    }

    /// Successful final reads of `key` served by nodes other than the
    /// master, one per node (the last when retried), ordered by node name.
    pub fn replica_reads(&self, key: Option<&str>) -> Vec<Operation<'a>> {
        let master = self.master_for(key);
        let master = master.as_deref();
        let mut by_node: std::collections::BTreeMap<&'a str, Operation<'a>> = Default::default();
        for o in self.ok_reads(key) {
            match node_of(&o) {
                Some(n) if Some(n) != master => {
                    by_node.insert(n, o);
                }
                _ => {}
            }
        }
        by_node.into_values().collect()
    }

    /// Final reads of `key` that did not succeed (for notes).
    pub fn failed<'s>(&'s self, key: Option<&'s str>) -> Vec<Operation<'a>> {
        self.reads_of(key)
            .filter(|o| o.outcome() != OpType::Ok)
            .collect()
    }

    /// Whether `op` (an invocation) is one of the final operations.
    pub fn contains(&self, invoke_index: u64) -> bool {
        self.invocations.contains(&invoke_index)
    }

    fn ok_reads<'s>(&'s self, key: Option<&'s str>) -> impl Iterator<Item = Operation<'a>> + 's {
        self.reads_of(key).filter(|o| o.outcome() == OpType::Ok)
    }

    /// The final reads of `key`, in invocation order.
    fn reads_of<'s>(&'s self, key: Option<&'s str>) -> impl Iterator<Item = Operation<'a>> + 's {
        // The map is covariant in its key: looked up with a key that lives only for 's.
        let by_key: &'s HashMap<Option<&'s str>, Vec<usize>> = &self.by_key;
        let positions = by_key.get(&key).map_or(&[][..], Vec::as_slice);
        positions
            .iter()
            .map(|&i| self.ops[i])
            .filter(|o| o.invoke.f == Function::Read)
    }
}

/// A foreign history's stand-in for final reads: the last successful read of each key, with a
/// note saying so.
fn last_successful_reads<'a>(history: &'a History, notes: &mut Vec<String>) -> Vec<Operation<'a>> {
    // Per key (a jepsen.independent history has many): its last successful read.
    let mut last: std::collections::BTreeMap<Option<&str>, Operation<'a>> =
        std::collections::BTreeMap::new();
    for read in history
        .operations()
        .filter(|o| o.invoke.f == Function::Read && o.outcome() == OpType::Ok)
    {
        last.insert(read.invoke.key.as_deref(), read);
    }
    let mut reads: Vec<Operation<'a>> = last.into_values().collect();
    reads.sort_by_key(|o| o.invoke.index);
    if !reads.is_empty() {
        let indices: Vec<u64> = reads.iter().map(|o| o.invoke.index).collect();
        notes.push(format!(
            "no read is marked final: the last successful read of each key (ops \
             {indices:?}) is taken as its final read, as Jepsen's set checker does"
        ));
    }
    reads
}

/// The post-failover master: the last topology record before the first final read, else the
/// node of that read (with a note).
fn choose_master(
    history: &History,
    first: &Operation<'_>,
    notes: &mut Vec<String>,
) -> MasterChoice {
    let first_pos = history
        .ops()
        .iter()
        .position(|o| o.index == first.invoke.index)
        .unwrap_or(0);
    let named = history.ops()[..first_pos]
        .iter()
        .rev()
        .find_map(|o| topology_master(o).map(|m| (m, o.index)));
    match named {
        Some((node, index)) => MasterChoice {
            node: node.to_string(),
            source: MasterSource::Topology { index },
        },
        None => {
            let node = first.last().node.clone().unwrap_or_default();
            notes.push(format!(
                "no topology record precedes the final reads: the node of the first \
                 final read (op {}, node {node:?}) is taken as the post-failover master",
                first.invoke.index
            ));
            MasterChoice {
                node: node.to_string(),
                source: MasterSource::FirstFinalRead {
                    index: first.invoke.index,
                },
            }
        }
    }
}

/// The node that served an operation: the completion's `node`, else the invocation's.
pub fn node_of<'a>(op: &Operation<'a>) -> Option<&'a str> {
    op.completion
        .and_then(|c| c.node.as_deref())
        .or(op.invoke.node.as_deref())
}

/// A point at which the history says a node became the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// Time (ns) of the record.
    pub time: u64,
    /// The earliest the change may have happened: `time` itself for the harness's own
    /// declarations (recorded before the change takes effect), earlier for changes noticed
    /// after the fact: a Sentinel's failover (see [`declarations`]) or a cluster's claims.
    pub earliest: u64,
    /// Index of the record (topology record, or the promote/failover nemesis invocation).
    pub index: u64,
    pub node: String,
}

/// Every change of master the history records, in time order: a topology record whose master
/// differs from the previously declared one, or a `promote` / `failover` nemesis invocation
/// whose value names its target (`{"node": "n2"}` or `{"new_master": "n2"}`). Repeats of the
/// current master are not declarations.
///
/// When the master was moved by Sentinel (Sentinel events precede the topology record since
/// the previous declaration), the record follows the change: `earliest` is then the first step
/// of a failover attempt still standing ([`FailoverStarts`]), failing that the previous
/// declaration. Writes the new master acknowledged in between belong to no known reign.
pub fn declarations(history: &History) -> Vec<Declaration> {
    let mut out: Vec<Declaration> = Vec::new();
    let mut sentinel = FailoverStarts::default();
    for op in history.ops() {
        sentinel.observe(op);
        let from_topology = topology_master(op);
        let named = from_topology.or_else(|| promoted_node(op));
        let Some(node) = named else { continue };
        if out.last().is_some_and(|d| d.node == node) {
            continue;
        }
        let earliest = match (
            from_topology.is_some() && sentinel.spoke(),
            sentinel.earliest(),
        ) {
            (false, _) => op.time,
            (true, Some(t)) => t,
            (true, None) => out.last().map_or(0, |d| d.time),
        };
        out.push(Declaration {
            time: op.time,
            earliest,
            index: op.index,
            node: node.to_string(),
        });
        sentinel.reset();
    }
    out
}

/// Whether client reads went to replicas, as far as the history tells: `Some(true)` when some
/// (non-final) read was served by a node other than the master declared when it was invoked,
/// `Some(false)` when every read that names its node was served by the declared master, `None`
/// when the history declares no master or no read names its node.
pub fn reads_served_by_replicas(history: &History) -> Option<bool> {
    let decls = declarations(history);
    let mut judged = false;
    for op in history.operations() {
        if op.invoke.f != Function::Read || op.invoke.is_final {
            continue;
        }
        let Some(node) = node_of(&op) else { continue };
        let Some(d) = decls.iter().rev().find(|d| d.time <= op.invoke.time) else {
            continue;
        };
        if d.node != node {
            return Some(true);
        }
        judged = true;
    }
    judged.then_some(false)
}

/// The target of a promote/failover nemesis invocation (or standalone record), if named.
fn promoted_node(op: &Op) -> Option<&str> {
    if op.process != Process::Nemesis || !matches!(op.f, Function::Promote | Function::Failover) {
        return None;
    }
    NemesisValue(&op.value).new_master()
}

/// Building small histories by hand in tests: times in ms, indices assigned in order.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::history::{History, Op};
    use serde_json::{json, Value};

    /// A history under construction; client records get the builder's key, if any.
    pub(crate) struct Builder {
        ops: Vec<Value>,
        key: Option<String>,
    }

    impl Builder {
        pub(crate) fn new() -> Builder {
            Builder {
                ops: Vec::new(),
                key: None,
            }
        }

        pub(crate) fn with_key(key: &str) -> Builder {
            Builder {
                ops: Vec::new(),
                key: Some(key.to_string()),
            }
        }

        /// Any record; `time` (ms) and `index` are filled in.
        pub(crate) fn at(mut self, ms: f64, mut record: Value) -> Builder {
            record["time"] = json!((ms * 1e6) as u64);
            record["index"] = json!(self.ops.len());
            self.ops.push(record);
            self
        }

        /// A client record of `process`, with `type`, `f` and `value`.
        pub(crate) fn client(self, ms: f64, process: u64, t: &str, f: &str, value: Value) -> Self {
            let mut r = json!({"process": process, "type": t, "f": f, "value": value});
            if let Some(k) = &self.key {
                r["key"] = json!(k);
            }
            self.at(ms, r)
        }

        pub(crate) fn invoke(self, ms: f64, process: u64, f: &str, value: Value) -> Self {
            self.client(ms, process, "invoke", f, value)
        }

        pub(crate) fn ok(self, ms: f64, process: u64, f: &str, value: Value) -> Self {
            self.client(ms, process, "ok", f, value)
        }

        pub(crate) fn fail(self, ms: f64, process: u64, f: &str, value: Value) -> Self {
            self.client(ms, process, "fail", f, value)
        }

        pub(crate) fn info(self, ms: f64, process: u64, f: &str, value: Value) -> Self {
            self.client(ms, process, "info", f, value)
        }

        /// Merges `fields` into the last record (`node`, `final`, `wait`, `error`, ...).
        pub(crate) fn with(mut self, fields: Value) -> Builder {
            if let (Some(last), Some(extra)) = (self.ops.last_mut(), fields.as_object()) {
                for (k, v) in extra {
                    last[k] = v.clone();
                }
            }
            self
        }

        /// Merges `fields` into the last record's `value` (a cluster record's `since_ns`, ...).
        pub(crate) fn with_value(mut self, fields: Value) -> Builder {
            if let (Some(last), Some(extra)) = (self.ops.last_mut(), fields.as_object()) {
                for (k, v) in extra {
                    last["value"][k] = v.clone();
                }
            }
            self
        }

        /// Sets `node` on the last record.
        pub(crate) fn node(self, node: &str) -> Builder {
            self.with(json!({ "node": node }))
        }

        /// A nemesis record.
        pub(crate) fn nemesis(self, ms: f64, t: &str, f: &str, value: Value) -> Builder {
            self.at(
                ms,
                json!({"process": "nemesis", "type": t, "f": f, "value": value}),
            )
        }

        /// An observer topology record naming the master.
        pub(crate) fn topology(self, ms: f64, master: &str) -> Builder {
            self.at(
                ms,
                json!({"process": "observer", "type": "info", "f": "topology",
                       "value": {"master": master}}),
            )
        }

        /// An observer record of a Sentinel event (`+try-failover`, `+switch-master`, ...).
        pub(crate) fn sentinel(self, ms: f64, event: &str) -> Builder {
            self.at(
                ms,
                json!({"process": "observer", "type": "info", "f": "sentinel",
                       "value": {"event": event, "text": ""}, "node": "s1"}),
            )
        }

        pub(crate) fn build(self) -> History {
            let ops: Vec<Op> = self
                .ops
                .into_iter()
                .map(|v| serde_json::from_value(v).expect("test record"))
                .collect();
            History::new(ops).expect("test history pairs")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::jsonl::read_str;

    fn history(text: &str) -> History {
        read_str(text).unwrap().history
    }

    #[test]
    fn reads_on_replicas_are_told_from_the_declared_master() {
        use super::test_support::Builder;
        use serde_json::{json, Value};
        let read = |b: Builder, t: f64, p: u64, node: &str| {
            b.invoke(t, p, "read", Value::Null)
                .node(node)
                .client(t + 1.0, p, "ok", "read", json!(1))
                .node(node)
        };
        let on_master = read(Builder::with_key("r").topology(0.0, "n1"), 1.0, 0, "n1");
        assert_eq!(reads_served_by_replicas(&on_master.build()), Some(false));
        let on_replica = read(Builder::with_key("r").topology(0.0, "n1"), 1.0, 0, "n2");
        assert_eq!(reads_served_by_replicas(&on_replica.build()), Some(true));
        let promoted = read(
            Builder::with_key("r")
                .topology(0.0, "n1")
                .topology(5.0, "n2"),
            6.0,
            0,
            "n2",
        );
        assert_eq!(reads_served_by_replicas(&promoted.build()), Some(false));
        let unknown = read(Builder::with_key("r"), 1.0, 0, "n2");
        assert_eq!(reads_served_by_replicas(&unknown.build()), None);
    }

    #[test]
    fn master_is_last_topology_record_before_first_final_read() {
        let h = history(
            r#"{"index":0,"time":0,"process":"observer","type":"info","f":"topology","value":{"master":"n1"}}
{"index":1,"time":5,"process":"observer","type":"info","f":"topology","value":{"master":"n2","replicas":["n1"]}}
{"index":2,"time":10,"process":0,"type":"invoke","f":"read","key":"s","final":true,"node":"n1"}
{"index":3,"time":11,"process":0,"type":"ok","f":"read","key":"s","value":[1],"final":true,"node":"n1"}
{"index":4,"time":12,"process":1,"type":"invoke","f":"read","key":"s","final":true,"node":"n2"}
{"index":5,"time":13,"process":1,"type":"ok","f":"read","key":"s","value":[1],"final":true,"node":"n2"}
{"index":6,"time":20,"process":"observer","type":"info","f":"topology","value":{"master":"n1"}}"#,
        );
        let f = FinalReads::from_history(&h);
        assert_eq!(f.master_node(), Some("n2"));
        assert_eq!(
            f.master.unwrap().source,
            MasterSource::Topology { index: 1 }
        );
        assert!(f.notes.is_empty());
    }

    #[test]
    fn without_topology_the_first_final_read_names_the_master() {
        let h = history(
            r#"{"index":0,"time":10,"process":0,"type":"invoke","f":"read","key":"s","final":true,"node":"n3"}
{"index":1,"time":11,"process":0,"type":"ok","f":"read","key":"s","value":[],"final":true,"node":"n3"}
{"index":2,"time":12,"process":1,"type":"invoke","f":"read","key":"s","final":true,"node":"n1"}
{"index":3,"time":13,"process":1,"type":"ok","f":"read","key":"s","value":[],"final":true,"node":"n1"}"#,
        );
        let f = FinalReads::from_history(&h);
        assert_eq!(f.master_node(), Some("n3"));
        assert_eq!(f.notes.len(), 1);
        assert_eq!(f.master_read(Some("s")).map(|o| o.invoke.index), Some(0));
        let replicas = f.replica_reads(Some("s"));
        assert_eq!(replicas.len(), 1);
        assert_eq!(replicas[0].invoke.index, 2);
    }

    #[test]
    fn no_final_reads_no_master() {
        let h = history(
            r#"{"index":0,"time":10,"process":0,"type":"invoke","f":"read","key":"s","node":"n3"}"#,
        );
        let f = FinalReads::from_history(&h);
        assert!(f.master.is_none());
        assert!(f.master_read(Some("s")).is_none());
    }

    #[test]
    fn declarations_skip_repeats_and_read_promote_targets() {
        let h = history(
            r#"{"index":0,"time":0,"process":"observer","type":"info","f":"topology","value":{"master":"n1"}}
{"index":1,"time":1,"process":"observer","type":"info","f":"topology","value":{"master":"n1"}}
{"index":2,"time":2,"process":"nemesis","type":"invoke","f":"promote","value":{"node":"n2","old_master":"n1"}}
{"index":3,"time":3,"process":"nemesis","type":"info","f":"promote","value":{"node":"n2","old_master":"n1"}}
{"index":4,"time":4,"process":"observer","type":"info","f":"topology","value":{"master":"n2"}}"#,
        );
        let d = declarations(&h);
        let nodes: Vec<_> = d.iter().map(|d| (d.index, d.node.as_str())).collect();
        assert_eq!(nodes, vec![(0, "n1"), (2, "n2")]);
    }
}
