//! The history model: operation records, their pairing into operations, and JSONL input/output.
//!
//! - [`op`]: one record (`Op`), its process and type.
//! - [`function`]: the typed `f` of a record (client operations, nemesis events, observer
//!   samples), with each fault paired to its heal.
//! - [`nemesis_value`]: the shape of a nemesis record's value, written and read in one place.
//! - [`cluster_value`]: the shape of a Redis Cluster topology record (every node's view of
//!   itself), written and read in one place.
//! - [`input`]: the formats a history may come in (JSON lines, a JSON array, EDN, gzipped),
//!   detected from the content and read one record at a time within size bounds.
//! - [`edn`]: EDN records as JSON values (keywords become strings).
//! - [`record`]: one parsed record made into an `Op` (foreign spellings normalised).
//! - [`pairing`]: the rules that pair invocations with completions (shared with streaming).
//! - [`independent`]: `jepsen.independent` histories, whose values are `[key value]` tuples.
//! - [`shared`]: texts many records repeat (keys, nodes, errors), held once.
//! - [`jsonl`]: reading a whole history into a `History` (line-numbered errors, tolerant of a
//!   truncated tail), in any of those formats.
//! - [`writer`]: appending records while a run goes, one flushed line each.
//!
//! Pairing: an `invoke` by a process is completed by the next record of the same process. A
//! client process never has two invocations open; an invocation with no completion by the end of
//! the history is indeterminate (`info`). Nemesis and observer records that are not invocations
//! stand alone as events.
//!
//! Real-time order (DESIGN.md section 3): when every record carries a `time`, op A precedes op
//! B when A completed before B was invoked, by the clock. When some record has no time (Elle's
//! and Knossos's histories), the history's record order is its real-time order, as Elle reads
//! it: every record's time becomes its index. [`History::realtime`] says which rule applied.

pub mod cluster_value;
pub mod edn;
pub mod function;
pub mod independent;
pub mod input;
pub mod jsonl;
pub mod nemesis_value;
pub mod op;
pub mod pairing;
pub mod record;
mod shared;
pub mod writer;

pub use function::Function;
pub use nemesis_value::NemesisValue;
pub use op::{Op, OpType, Process, Redirect, WaitAofInfo, WaitInfo, MISSING_TIME};

use std::collections::HashMap;
use thiserror::Error;

/// Why a sequence of records is not a well-formed history.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// A line of a JSONL file could not be parsed. `line` is 1-based.
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    /// The records parse but do not pair up (e.g. a completion nobody invoked).
    #[error("op {index}: {reason}")]
    Pairing { index: u64, reason: String },
    #[error("reading history: {0}")]
    Io(#[from] std::io::Error),
    /// The input passed a size bound.
    #[error("{0}")]
    TooLarge(String),
}

/// Which order stands for real time (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RealtimeOrder {
    /// Every record has a time: real-time precedence is by the clock.
    #[default]
    Time,
    /// Some record has none: record order is real-time order (Elle's rule).
    HistoryOrder,
}

impl RealtimeOrder {
    /// The name results use.
    pub fn as_str(self) -> &'static str {
        match self {
            RealtimeOrder::Time => "time",
            RealtimeOrder::HistoryOrder => "history-order",
        }
    }
}

/// A parsed, paired history. Positions (`usize`) index [`History::ops`]; `Op::index` is what
/// anomalies cite.
#[derive(Debug, Clone, Default)]
pub struct History {
    ops: Vec<Op>,
    /// For each position: the position of its partner (completion of an invoke, or invoke of a
    /// completion), or [`NO_PARTNER`]. 4 bytes a record rather than an `Option<usize>`'s 16: a
    /// run of minutes has tens of millions of records.
    partner: Vec<u32>,
    realtime: RealtimeOrder,
    independent: bool,
    /// Positions of the records that are not a client's (nemesis, observers), ascending: what
    /// a fault narrative looks through, without scanning millions of client records.
    non_client: Vec<usize>,
}

/// An invocation together with its completion, if it had one.
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    pub invoke: &'a Op,
    pub completion: Option<&'a Op>,
}

impl<'a> Operation<'a> {
    /// `Ok`, `Fail` or `Info`; an invocation that never completed is `Info`.
    pub fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.op_type)
    }

    /// Invocation time (ns).
    pub fn start(&self) -> u64 {
        self.invoke.time
    }

    /// Completion time (ns) of a determinate operation; `None` for `info` ones, which stay open
    /// until the end of time.
    pub fn end(&self) -> Option<u64> {
        match self.completion {
            Some(c) if c.op_type != OpType::Info => Some(c.time),
            _ => None,
        }
    }

    /// The completion record when there is one, else the invocation.
    pub fn last(&self) -> &'a Op {
        self.completion.unwrap_or(self.invoke)
    }

    /// Indices of the records, for witness lists.
    pub fn indices(&self) -> Vec<u64> {
        let mut v = vec![self.invoke.index];
        if let Some(c) = self.completion {
            v.push(c.index);
        }
        v
    }
}

impl History {
    /// Pairs records into a history. Fails on a client completion with no open invocation, a
    /// second invocation while one is open, a completion whose `f` differs from its
    /// invocation's, a completion timed before its invocation, or indices that do not ascend.
    /// Then decides the real-time rule (see the module doc) and splits `jepsen.independent`
    /// tuples ([`independent`]).
    pub fn new(mut ops: Vec<Op>) -> Result<History, HistoryError> {
        let partner = pair(&ops)?;
        let independent = independent::split(&mut ops);
        let realtime = if ops.iter().any(|o| o.time == op::MISSING_TIME) {
            for op in &mut ops {
                op.time = op.index;
            }
            RealtimeOrder::HistoryOrder
        } else {
            RealtimeOrder::Time
        };
        let non_client = (ops.iter().enumerate())
            .filter(|(_, o)| !matches!(o.process, Process::Client(_)))
            .map(|(pos, _)| pos)
            .collect();
        Ok(History {
            ops,
            partner,
            realtime,
            independent,
            non_client,
        })
    }

    /// Whether the history was a `jepsen.independent` one (values were `[key value]`).
    pub fn independent(&self) -> bool {
        self.independent
    }

    /// Which order stands for real time in this history.
    pub fn realtime(&self) -> RealtimeOrder {
        self.realtime
    }
}

/// Marks a record without a partner in [`History::partner`].
const NO_PARTNER: u32 = u32::MAX;

/// The partner of every record (see [`History::new`] and [`pairing`]).
fn pair(ops: &[Op]) -> Result<Vec<u32>, HistoryError> {
    if ops.len() >= NO_PARTNER as usize {
        return Err(HistoryError::TooLarge(format!(
            "{} records: a history may hold at most {} records",
            ops.len(),
            NO_PARTNER - 1
        )));
    }
    let mut partner = vec![NO_PARTNER; ops.len()];
    let mut open: HashMap<Process, usize> = HashMap::new();
    let mut last_index: Option<u64> = None;
    for (pos, op) in ops.iter().enumerate() {
        pairing::check_index(op, &mut last_index)?;
        if op.op_type == OpType::Invoke {
            pairing::check_invoke(op, open.get(&op.process).map(|&p| &ops[p]))?;
            open.insert(op.process, pos);
            continue;
        }
        let inv = open.remove(&op.process);
        if pairing::check_completion(op, inv.map(|i| &ops[i]))? {
            if let Some(inv) = inv {
                // Both fit: the length was checked above.
                partner[inv] = pos as u32;
                partner[pos] = inv as u32;
            }
        }
    }
    Ok(partner)
}

impl History {
    /// Every record, in history order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The partner position of the record at `pos` (completion of an invocation or vice versa).
    pub fn partner(&self, pos: usize) -> Option<usize> {
        match self.partner.get(pos) {
            Some(&p) if p != NO_PARTNER => Some(p as usize),
            _ => None,
        }
    }

    /// The record with `Op::index == index`.
    pub fn by_index(&self, index: u64) -> Option<&Op> {
        self.ops
            .binary_search_by_key(&index, |o| o.index)
            .ok()
            .map(|p| &self.ops[p])
    }

    /// Client operations (invocation + completion), in invocation order.
    pub fn operations(&self) -> impl Iterator<Item = Operation<'_>> + '_ {
        self.ops
            .iter()
            .enumerate()
            .filter(|(_, op)| op.is_invoke() && op.is_client())
            .map(move |(pos, invoke)| Operation {
                invoke,
                completion: self.partner(pos).map(|c| &self.ops[c]),
            })
    }

    /// The records that are not a client's (nemesis, observers) with their positions, in
    /// history order.
    pub fn non_client_ops(&self) -> impl Iterator<Item = (usize, &Op)> + '_ {
        self.non_client.iter().map(|&pos| (pos, &self.ops[pos]))
    }

    /// Nemesis records (both halves of each fault), in history order.
    pub fn nemesis_ops(&self) -> impl Iterator<Item = &Op> + '_ {
        self.ops.iter().filter(|o| o.process == Process::Nemesis)
    }

    /// Time of the last record (ns), i.e. the length of the run as far as the history knows.
    pub fn end_time(&self) -> u64 {
        self.ops.iter().map(|o| o.time).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(index: u64, process: Process, t: OpType, f: &str) -> Op {
        Op::new(index, index * 10, process, t, f)
    }

    #[test]
    fn pairs_by_process_and_leaves_open_invocations_info() {
        let h = History::new(vec![
            op(0, Process::Client(0), OpType::Invoke, "add"),
            op(1, Process::Client(1), OpType::Invoke, "add"),
            op(2, Process::Client(0), OpType::Ok, "add"),
            op(3, Process::Nemesis, OpType::Info, "kill"),
        ])
        .unwrap();
        let ops: Vec<_> = h.operations().collect();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].outcome(), OpType::Ok);
        assert_eq!(ops[0].end(), Some(20));
        assert_eq!(ops[1].outcome(), OpType::Info);
        assert_eq!(ops[1].end(), None);
        assert_eq!(h.nemesis_ops().count(), 1);
    }

    #[test]
    fn rejects_completion_without_invocation() {
        let err = History::new(vec![op(0, Process::Client(4), OpType::Ok, "read")]).unwrap_err();
        assert!(err.to_string().contains("no open invocation"), "{err}");
    }

    #[test]
    fn rejects_double_invocation_by_one_process() {
        let err = History::new(vec![
            op(0, Process::Client(1), OpType::Invoke, "add"),
            op(1, Process::Client(1), OpType::Invoke, "add"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("still open"), "{err}");
    }

    #[test]
    fn by_index_finds_sparse_indices() {
        let mut a = op(3, Process::Client(0), OpType::Invoke, "write");
        a.value = json!(1);
        let b = op(9, Process::Client(0), OpType::Ok, "write");
        let h = History::new(vec![a, b]).unwrap();
        assert_eq!(h.by_index(9).map(|o| o.op_type), Some(OpType::Ok));
        assert!(h.by_index(4).is_none());
    }
}
