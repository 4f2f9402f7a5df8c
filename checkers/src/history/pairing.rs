//! The rules that pair an invocation with its completion, in one place for the two pairers:
//! [`super::History::new`] and txn-cycles' streaming reader, so that both accept the same
//! histories and reject the others with the same messages.
//!
//! Indices ascend strictly. A client process never has two invocations open (one whose op
//! ended `info` continues under a new process id). A completion completes the open invocation
//! of its process, with the same `f`, and is not timed before it. A client completion without
//! an open invocation is an error; a nemesis or observer record without one stands alone.

use super::{HistoryError, Op, MISSING_TIME};

fn error(op: &Op, reason: String) -> HistoryError {
    HistoryError::Pairing {
        index: op.index,
        reason,
    }
}

/// Indices ascend strictly; `last` is the previous record's.
pub(crate) fn check_index(op: &Op, last: &mut Option<u64>) -> Result<(), HistoryError> {
    if let Some(prev) = *last {
        if op.index <= prev {
            return Err(error(
                op,
                format!("index {} does not follow {prev}", op.index),
            ));
        }
    }
    *last = Some(op.index);
    Ok(())
}

/// An invocation, with the invocation its process still has open, if any.
pub(crate) fn check_invoke(op: &Op, open: Option<&Op>) -> Result<(), HistoryError> {
    match open {
        Some(prior) if op.is_client() => Err(error(
            op,
            format!(
                "process {} invoked again while op {} was still open (a process whose op \
                 ended info must continue under a new id)",
                op.process, prior.index
            ),
        )),
        _ => Ok(()),
    }
}

/// A completion, with its process's open invocation if any. `Ok(true)` when they pair,
/// `Ok(false)` for a standalone nemesis or observer event.
pub(crate) fn check_completion(op: &Op, invoke: Option<&Op>) -> Result<bool, HistoryError> {
    let Some(invoke) = invoke else {
        if op.is_client() {
            return Err(error(
                op,
                format!(
                    "{} completion by process {} with no open invocation",
                    op.op_type.as_str(),
                    op.process
                ),
            ));
        }
        return Ok(false);
    };
    if invoke.f != op.f {
        return Err(error(
            op,
            format!(
                "completion f {:?} does not match invocation {} f {:?}",
                op.f, invoke.index, invoke.f
            ),
        ));
    }
    let timed = invoke.time != MISSING_TIME && op.time != MISSING_TIME;
    if timed && op.time < invoke.time {
        return Err(error(
            op,
            format!(
                "completed at time {} ns, before its invocation (op {}) at {} ns",
                op.time, invoke.index, invoke.time
            ),
        ));
    }
    Ok(true)
}
