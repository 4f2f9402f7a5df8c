//! Reading a list-append history straight into [`Txns`], one record at a time, for histories
//! too large to hold as a [`History`](crate::History) (a million transactions are two million [`Op`]s with
//! their micro-ops as JSON values: gigabytes).
//!
//! Each line is parsed and normalised by the ordinary reader ([`jsonl::read_each`]), paired
//! with its invocation as [`History::new`](crate::History::new) pairs it, turned into compact micro-ops as
//! [`micro_op::extract`] would, and dropped. Only invocations still open are held whole. The
//! result is the same [`Txns`] as `extract(&History::new(records)?)`, and the same errors:
//! line errors first, then the first pairing error, with the same messages.

use super::micro_op::{Builder, Txns};
use crate::history::{jsonl, pairing, Function, HistoryError, Op, OpType, Process, MISSING_TIME};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The transactions of a history file and what the reader tolerated.
#[derive(Debug)]
pub struct ReadTxns {
    /// `None` when the history has no `txn` operations.
    pub txns: Option<Txns>,
    /// As [`jsonl::ReadHistory::warnings`].
    pub warnings: Vec<String>,
    /// How many records the history has (its `History::len`).
    pub records: usize,
}

/// Reads a history file into transactions.
pub fn read_file(path: &Path) -> Result<ReadTxns, HistoryError> {
    read(std::fs::File::open(path)?)
}

/// Reads a history from any reader into transactions.
pub fn read(input: impl Read) -> Result<ReadTxns, HistoryError> {
    let mut pairer = Pairer::default();
    let mut records = 0usize;
    let warnings = jsonl::read_each(input, |op| {
        records += 1;
        pairer.push(op);
    })?;
    Ok(ReadTxns {
        txns: pairer.finish()?,
        warnings,
        records,
    })
}

/// An invocation waiting for its completion, with its transaction number when it is a
/// client's `txn`.
struct Open {
    slot: Option<u32>,
    invoke: Op,
}

/// Pairs records as [`History::new`](crate::History::new) does, feeding transactions to a
/// [`Builder`]. Fed every record, it reports the same pairing errors; fed only a history's
/// client `txn` records (the caller pairing the rest), the same transactions.
#[derive(Default)]
pub struct Pairer {
    builder: Builder,
    open: HashMap<Process, Open>,
    last_index: Option<u64>,
    /// The first pairing error; records after it are still parsed (a line error wins, as in
    /// the ordinary reader, which parses every line before pairing).
    error: Option<HistoryError>,
    /// Some record had no time: record order stands for real time.
    missing_time: bool,
}

impl Pairer {
    /// Takes the next record, in history order.
    pub fn push(&mut self, op: Op) {
        self.missing_time |= op.time == MISSING_TIME;
        if self.error.is_none() {
            if let Err(e) = self.pair(op) {
                self.error = Some(e);
                self.open.clear();
            }
        }
    }

    fn pair(&mut self, op: Op) -> Result<(), HistoryError> {
        pairing::check_index(&op, &mut self.last_index)?;
        if op.op_type == OpType::Invoke {
            pairing::check_invoke(&op, self.open.get(&op.process).map(|o| &o.invoke))?;
            // `History::operations` yields client invocations only, in invocation order.
            let slot = (op.is_client() && op.f == Function::Txn).then(|| self.builder.reserve());
            self.open.insert(op.process, Open { slot, invoke: op });
            return Ok(());
        }
        let inv = self.open.remove(&op.process);
        if pairing::check_completion(&op, inv.as_ref().map(|i| &i.invoke))? {
            if let Some(inv) = inv {
                self.fill(inv, Some(&op));
            }
        }
        Ok(())
    }

    fn fill(&mut self, inv: Open, completion: Option<&Op>) {
        if let (Some(slot), Process::Client(process)) = (inv.slot, inv.invoke.process) {
            self.builder.fill(slot, process, &inv.invoke, completion);
        }
    }

    /// Record order stands for real time even if every record fed had a time (the caller saw
    /// other records without one).
    pub fn set_history_order(&mut self) {
        self.missing_time = true;
    }

    /// Invocations never completed are `info`; then the transactions, or the pairing error.
    pub fn finish(mut self) -> Result<Option<Txns>, HistoryError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut open: Vec<Open> = std::mem::take(&mut self.open).into_values().collect();
        open.sort_by_key(|o| o.invoke.index);
        for inv in open {
            self.fill(inv, None);
        }
        self.builder.history_order = self.missing_time;
        Ok(self.builder.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::jsonl::read_str;
    use crate::txn_cycles::micro_op::extract;

    /// The streamed transactions, compared field by field with `extract` over a `History`.
    fn same_as_extract(text: &str) {
        let streamed = read(text.as_bytes()).unwrap();
        let history = read_str(text).unwrap();
        assert_eq!(streamed.warnings, history.warnings);
        let (a, b) = match (streamed.txns, extract(&history.history)) {
            (Some(a), Some(b)) => (a, b),
            (None, None) => return,
            (a, b) => panic!("one side empty: {:?} / {:?}", a.is_some(), b.is_some()),
        };
        assert_eq!(format!("{:?}", a.txns), format!("{:?}", b.txns));
        assert_eq!(a.key_names, b.key_names);
        assert_eq!(a.malformed, b.malformed);
        assert_eq!(a.times_from_index, b.times_from_index);
        let lists = |t: &Txns| -> Vec<String> {
            (0..t.txns.len())
                .flat_map(|i| t.mops_of(i).to_vec())
                .map(|m| match m.kind {
                    super::super::micro_op::MopKind::Read { start, len } => format!(
                        "{} r {:?}",
                        m.key,
                        t.read_list(start, len)
                            .iter()
                            .map(|&e| t.elem_name(e))
                            .collect::<Vec<_>>()
                    ),
                    other => format!("{} {other:?}", m.key),
                })
                .collect()
        };
        assert_eq!(lists(&a), lists(&b));
    }

    #[test]
    fn out_of_order_completions_give_the_same_transactions() {
        // Process 2 invokes after process 1 but completes first, with a key (y) and a string
        // element ("s") that process 1's completion also uses; process 3 never completes;
        // process 4 fails; a malformed micro-op interns its key before being rejected.
        same_as_extract(
            r#"{"index":0,"time":10,"process":1,"type":"invoke","f":"txn","value":[["r","x",null],["append","y",1]]}
{"index":1,"time":11,"process":2,"type":"invoke","f":"txn","value":[["append","z","s"],["r","y",null]]}
{"index":2,"time":12,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}
{"index":3,"time":13,"process":2,"type":"ok","f":"txn","value":[["append","z","s"],["r","y",[]]]}
{"index":4,"time":14,"process":3,"type":"invoke","f":"txn","value":[["append","w",5]]}
{"index":5,"time":15,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
{"index":6,"time":16,"process":4,"type":"invoke","f":"txn","value":[["append","q",9]]}
{"index":7,"time":17,"process":1,"type":"ok","f":"txn","value":[["w","v",3],["r","x",["s",7]],["append","y",1]]}
{"index":8,"time":18,"process":4,"type":"fail","f":"txn","value":[["append","q",9]]}
{"index":9,"time":19,"process":5,"type":"invoke","f":"read","key":"x"}
{"index":10,"time":20,"process":5,"type":"ok","f":"read","key":"x","value":1}
"#,
        );
    }

    #[test]
    fn elle_histories_without_index_or_time() {
        same_as_extract(
            r#"{"type":":invoke","process":0,"value":[["append",1,2],["r",1,null]]}
{"type":":invoke","process":1,"value":[["append",2,3]]}
{"type":":ok","process":1,"value":[["append",2,3]]}
{"type":":info","process":0,"value":[["append",1,2],["r",1,[2]]]}
"#,
        );
    }

    #[test]
    fn no_txn_operations_is_none() {
        let text = r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"x"}"#;
        assert!(read(text.as_bytes()).unwrap().txns.is_none());
    }

    /// Each broken history fails with the message `History::new` gives.
    #[test]
    fn pairing_errors_match_the_history_reader() {
        let cases = [
            "{\"index\":0,\"process\":4,\"type\":\"ok\",\"f\":\"txn\",\"value\":[]}\n",
            "{\"index\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[]}\n\
             {\"index\":1,\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[]}\n",
            "{\"index\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[]}\n\
             {\"index\":1,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":[]}\n",
            "{\"index\":3,\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[]}\n\
             {\"index\":2,\"process\":1,\"type\":\"ok\",\"f\":\"txn\",\"value\":[]}\n",
            // A pairing error on line 1, a line error on line 2: the line error wins.
            "{\"index\":0,\"process\":4,\"type\":\"ok\",\"f\":\"txn\",\"value\":[]}\n{\"index\":1,]\n",
        ];
        for text in cases {
            let a = read(text.as_bytes()).unwrap_err().to_string();
            let b = read_str(text).unwrap_err().to_string();
            assert_eq!(a, b, "{text}");
        }
    }
}
