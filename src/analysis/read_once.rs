//! Reading a history for `redline check` exactly once, in the smallest form that lets every
//! checker run.
//!
//! A million list-append transactions held as a `History` with their micro-ops are gigabytes.
//! So while reading, each transaction record goes to txn-cycles' compact form ([`Txns`]) and
//! leaves behind only what the other checkers read of it ([`LeanTxn`]: index, time, process,
//! outcome, node, whether it appended). The transactional checkers run on [`Txns`] first; only
//! then, their memory freed, are the lean records expanded into the `History` the others
//! check, so the two never take memory at the same time.

use redline_checkers::history::input::{self, Limits, ReadInfo};
use redline_checkers::history::{HistoryError, MISSING_TIME};
use redline_checkers::txn_cycles::{micro_op::Txns, stream};
use redline_checkers::{Function, History, InputSummary, Op, OpType, Process};
use serde_json::{json, Value};
use std::io::Read;
use std::sync::Arc;

/// What the checkers other than the transactional ones read of a client `txn` record.
struct LeanTxn {
    index: u64,
    time: u64,
    process: u64,
    op_type: OpType,
    /// An invocation with an append (split-brain counts it as a write).
    appended: bool,
    is_final: bool,
    /// The node, as an index into [`ReadOnce::nodes`].
    node: Option<u32>,
}

/// A history read once (see the module doc).
pub struct ReadOnce {
    /// Every record but client `txn` ones, in input order: for a history without
    /// transactions, the history itself, moved into [`History`] without a copy.
    others: Vec<Op>,
    /// Client `txn` records, each with its position among all records.
    lean: Vec<(usize, LeanTxn)>,
    nodes: Vec<Arc<str>>,
    /// The transactions, for txn-cycles and rw-register; `None` without `txn` records.
    pub txns: Option<Txns>,
    info: ReadInfo,
}

/// Reads `input` to its end, once. Pairing errors among `txn` records are found here, the
/// others when the history is built ([`ReadOnce::into_history`]).
pub fn read_once(input: impl Read, limits: Limits) -> Result<ReadOnce, HistoryError> {
    let mut pairer = stream::Pairer::default();
    let mut others = Vec::new();
    let mut lean = Vec::new();
    let mut nodes: Vec<Arc<str>> = Vec::new();
    let mut missing_time = false;
    let info = input::read_each(input, limits, |op| {
        missing_time |= op.time == MISSING_TIME;
        match (op.f == Function::Txn, op.process) {
            (true, Process::Client(process)) => {
                let node = op.node.as_ref().map(|n| intern(&mut nodes, n));
                let position = others.len() + lean.len();
                lean.push((
                    position,
                    LeanTxn {
                        index: op.index,
                        time: op.time,
                        process,
                        op_type: op.op_type,
                        appended: op.op_type == OpType::Invoke && appends(&op.value),
                        is_final: op.is_final,
                        node,
                    },
                ));
                pairer.push(op);
            }
            _ => others.push(op),
        }
    })?;
    if missing_time {
        pairer.set_history_order();
    }
    Ok(ReadOnce {
        others,
        lean,
        nodes,
        txns: pairer.finish()?,
        info,
    })
}

/// The position of `node` in `nodes`, added if new (the reader already shares the text).
fn intern(nodes: &mut Vec<Arc<str>>, node: &Arc<str>) -> u32 {
    match nodes.iter().position(|n| n == node) {
        Some(i) => i as u32,
        None => {
            nodes.push(Arc::clone(node));
            nodes.len() as u32 - 1
        }
    }
}

/// Whether a transaction's micro-ops (or a `jepsen.independent` `[k, micro-ops]`) append.
fn appends(value: &Value) -> bool {
    let is_append = |m: &Value| m.get(0).and_then(Value::as_str) == Some("append");
    match value.as_array().map(Vec::as_slice) {
        Some([k, Value::Array(mops)]) if !k.is_array() => mops.iter().any(is_append),
        Some(mops) => mops.iter().any(is_append),
        None => false,
    }
}

impl ReadOnce {
    /// What was tolerated while reading.
    pub fn warnings(&self) -> &[String] {
        &self.info.warnings
    }

    /// The history the other checkers see: a txn record keeps its index, time, process,
    /// outcome, node and finality; an invocation that appended has the value `[["append"]]`,
    /// any other txn record none. With how the input was read.
    pub fn into_history(self) -> Result<(History, InputSummary, Vec<String>), HistoryError> {
        let ops = if self.lean.is_empty() {
            self.others
        } else {
            merge(self.others, self.lean, &self.nodes)
        };
        let history = History::new(ops)?;
        let summary = InputSummary {
            format: self.info.format.as_str().to_string(),
            gzip: self.info.gzip,
            records: self.info.records as u64,
            realtime_order: history.realtime().as_str().to_string(),
            independent: history.independent(),
        };
        Ok((history, summary, self.info.warnings))
    }
}

/// The records in input order: `others` with each lean transaction put back at its position.
fn merge(others: Vec<Op>, lean: Vec<(usize, LeanTxn)>, nodes: &[Arc<str>]) -> Vec<Op> {
    let mut ops = Vec::with_capacity(others.len() + lean.len());
    let mut others = others.into_iter();
    for (position, t) in lean {
        ops.extend(others.by_ref().take(position - ops.len()));
        ops.push(Op {
            value: if t.appended {
                json!([["append"]])
            } else {
                Value::Null
            },
            node: t.node.map(|n| nodes[n as usize].clone()),
            is_final: t.is_final,
            ..Op::new(
                t.index,
                t.time,
                Process::Client(t.process),
                t.op_type,
                Function::Txn,
            )
        });
    }
    ops.extend(others);
    ops
}
