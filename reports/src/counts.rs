//! Operation counts by function and outcome, shared by the terminal table and the HTML page.
//!
//! Counted per *operation* (an invocation with its completion), not per record: an invocation
//! that never completed counts as `info`, as the history model says.

use redline_checkers::{History, OpType};
use std::collections::BTreeMap;

/// ok / fail / info counts of one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl OutcomeCounts {
    /// All operations, whatever their outcome.
    pub fn total(&self) -> u64 {
        self.ok + self.fail + self.info
    }

    fn add(&mut self, outcome: OpType) {
        match outcome {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info | OpType::Invoke => self.info += 1,
        }
    }
}

/// Client operation counts by `f`, final reads counted apart as `"<f> (final)"`.
pub fn ops_by_f(history: &History) -> BTreeMap<String, OutcomeCounts> {
    let mut counts: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
    for op in history.operations() {
        let f = if op.invoke.is_final {
            format!("{} (final)", op.invoke.f)
        } else {
            op.invoke.f.to_string()
        };
        counts.entry(f).or_default().add(op.outcome());
    }
    counts
}

/// The number of client operations (invocations) in the history.
pub fn client_op_count(history: &History) -> u64 {
    history.operations().count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::{Op, Process};

    #[test]
    fn counts_by_outcome_with_open_invocations_as_info() {
        let c = |i, p, t, f: &str| Op::new(i, i * 10, Process::Client(p), t, f);
        let mut fin = c(4, 2, OpType::Invoke, "read");
        fin.is_final = true;
        let h = History::new(vec![
            c(0, 0, OpType::Invoke, "add"),
            c(1, 1, OpType::Invoke, "add"),
            c(2, 0, OpType::Ok, "add"),
            c(3, 1, OpType::Fail, "add"),
            fin,
            c(5, 3, OpType::Invoke, "add"),
        ])
        .unwrap();
        let counts = ops_by_f(&h);
        assert_eq!(
            counts["add"],
            OutcomeCounts {
                ok: 1,
                fail: 1,
                info: 1
            }
        );
        assert_eq!(counts["read (final)"].info, 1);
        assert_eq!(client_op_count(&h), 4);
    }
}
