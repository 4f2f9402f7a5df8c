//! Turning a history into one register sub-history per key (P-compositionality), pruning
//! indeterminate writes nobody observed, and merging values nobody observed.
//!
//! Linearizability is local (Herlihy & Wing): a history is linearizable iff each key's
//! sub-history is, so keys are checked independently. What enters a key's sub-history:
//! - `ok` reads, writes and cas ops, closed on [invoke time, completion time];
//! - `fail` cas ops with `"error":"mismatch"`: the compare did not match, so at some point in
//!   their interval the register did not hold `old` (a read-like op, see `RegisterInput`);
//! - `info` writes and cas ops, open from their invocation to the end of time: they may or may
//!   not have taken effect;
//! - nothing else: other `fail` ops did not happen, and an `info` read returned nothing, so it
//!   constrains nothing. Final reads (`"final":true`) are left out: they run after healing on
//!   every node, replicas included, and the lost-writes checker judges them; only client ops
//!   of the run itself are held to linearizability.

use super::model::{RegisterInput, Value, Values, NULL};
use crate::history::{Function, History, OpType, Operation, RealtimeOrder};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashSet};

/// One operation of a key's sub-history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOp {
    /// What the search sees: written values nobody observes are merged (see [`merge_unobserved`]).
    pub input: RegisterInput,
    /// The op as recorded, for explanations.
    pub shown: RegisterInput,
    /// Invocation time, ns.
    pub start: u64,
    /// Completion time, ns; `None` for an `info` op, which stays open forever.
    pub end: Option<u64>,
    /// `Op::index` of the invocation (what explanations cite).
    pub invoke_index: u64,
    /// A determinate op the search may also drop instead of linearizing: only in the windows
    /// of [`super::window`], for an op that may have taken effect before the window began.
    pub skippable: bool,
}

impl KeyOp {
    /// An op as recorded, which the search sees as it is (until values are merged), invoked at
    /// history index `invoke_index`; `end` is `None` for an `info` op.
    pub fn new(input: RegisterInput, start: u64, end: Option<u64>, invoke_index: u64) -> KeyOp {
        KeyOp {
            input,
            shown: input,
            start,
            end,
            invoke_index,
            skippable: false,
        }
    }
}

/// The register sub-history of one key.
#[derive(Debug, Clone)]
pub struct KeyHistory {
    pub key: String,
    pub ops: Vec<KeyOp>,
    pub values: Values,
    /// Any cas (of any outcome) on this key: check against the cas-register model.
    pub has_cas: bool,
    /// Info writes/cas dropped because nobody observed their value (see [`prune_unobserved`]).
    pub pruned: usize,
    /// Whether `start`/`end` are clock times (ns); else they are record positions (a history
    /// without times, ordered by its records: `RealtimeOrder::HistoryOrder`).
    pub clocked: bool,
}

/// Every key's sub-history, and what was left out.
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub keys: Vec<KeyHistory>,
    /// Register ops taken into a sub-history.
    pub ops: usize,
    pub final_reads_ignored: usize,
    /// Invocation indices of cas ops whose value is not `[old, new]`.
    pub malformed: Vec<u64>,
}

/// Splits a history into per-key register sub-histories, in key order.
pub fn split_by_key(history: &History) -> Split {
    let mut split = Split::default();
    let mut by_key: BTreeMap<String, KeyHistory> = BTreeMap::new();
    let clocked = history.realtime() == RealtimeOrder::Time;
    for op in history.operations() {
        let f = &op.invoke.f;
        if !matches!(f, Function::Read | Function::Write | Function::Cas) {
            continue;
        }
        // Jepsen's and Knossos's single-register histories carry no key: they are one register.
        let key = op.invoke.key.as_deref().unwrap_or_default();
        if op.invoke.is_final || op.completion.is_some_and(|c| c.is_final) {
            split.final_reads_ignored += 1;
            continue;
        }
        if !by_key.contains_key(key) {
            let history = KeyHistory {
                key: key.to_string(),
                ops: Vec::new(),
                values: Values::default(),
                has_cas: false,
                pruned: 0,
                clocked,
            };
            by_key.insert(key.to_string(), history);
        }
        let Some(entry) = by_key.get_mut(key) else {
            continue;
        };
        match key_op(&op, &mut entry.values) {
            Ok(Some(k)) => {
                entry.has_cas |= *f == Function::Cas;
                entry.ops.push(k);
                split.ops += 1;
            }
            Ok(None) => {}
            Err(()) => split.malformed.push(op.invoke.index),
        }
    }
    for mut k in by_key.into_values() {
        let (mut ops, pruned) = prune_unobserved(std::mem::take(&mut k.ops));
        merge_unobserved(&mut ops, &mut k.values);
        ops.shrink_to_fit();
        k.ops = ops;
        k.pruned = pruned;
        split.keys.push(k);
    }
    split
}

/// The sub-history entry of one operation; `Ok(None)` when it constrains nothing.
fn key_op(op: &Operation<'_>, values: &mut Values) -> Result<Option<KeyOp>, ()> {
    let outcome = op.outcome();
    let completion = op.completion.filter(|c| c.op_type != OpType::Info);
    let input = match (&op.invoke.f, outcome) {
        (Function::Read, OpType::Ok) => {
            let v = completion.map_or(&Json::Null, |c| &c.value);
            RegisterInput::Read(values.intern(v))
        }
        (Function::Write, OpType::Ok | OpType::Info) => {
            RegisterInput::Write(values.intern(&op.invoke.value))
        }
        (Function::Cas, OpType::Ok | OpType::Info | OpType::Fail) => {
            let (old, new) = match op.invoke.value.as_array().map(Vec::as_slice) {
                Some([old, new]) => (values.intern(old), values.intern(new)),
                _ => return Err(()),
            };
            match outcome {
                OpType::Fail if completion.and_then(|c| c.error.as_deref()) == Some("mismatch") => {
                    RegisterInput::CasMismatch(old)
                }
                OpType::Fail => return Ok(None),
                _ => RegisterInput::Cas(old, new),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(KeyOp::new(
        input,
        op.start(),
        op.end(),
        op.invoke.index,
    )))
}

/// The values some op observes: read results and cas compare values (any outcome).
fn observed(ops: &[KeyOp]) -> HashSet<Value> {
    ops.iter()
        .filter_map(|op| match op.input {
            RegisterInput::Read(v) | RegisterInput::Cas(v, _) | RegisterInput::CasMismatch(v) => {
                Some(v)
            }
            RegisterInput::Write(_) => None,
        })
        .collect()
}

/// Replaces every written value that no op observes by one shared id.
///
/// Two such values are indistinguishable states of the model: no read returns either, no cas
/// compares against either (so every cas refuses both), a mismatch cas accepts both, and a write
/// leaves the same state from both. Merging them lets the cache treat "the register holds some
/// value nobody read" as one state, and makes the info writes of such values identical, so the
/// search tries one of them where it would have tried each (`search::choices`).
pub fn merge_unobserved(ops: &mut [KeyOp], values: &mut Values) {
    let observed = observed(ops);
    let merged = values.unobserved();
    let canon = |v: Value| {
        if v == NULL || observed.contains(&v) {
            v
        } else {
            merged
        }
    };
    for op in ops.iter_mut() {
        op.input = match op.input {
            RegisterInput::Write(v) => RegisterInput::Write(canon(v)),
            RegisterInput::Cas(o, n) => RegisterInput::Cas(o, canon(n)),
            other => other,
        };
    }
}

/// Drops `info` writes and cas ops whose written value no op observes, to a fixed point.
///
/// Soundness. Let `w` be an info op writing `v`, where no read returns `v`, no cas (of any
/// outcome) compares against `v`, and every mismatch cas completed before `w` was invoked.
/// If the pruned history has a linearization, so does the original: `w` simply did not take
/// effect, which an info op may do. Conversely take a linearization of the original where `w`
/// took effect at point p; between p and the next op that changes the register the state is
/// `v`. Nothing linearized there observes it: a read would return `v`, a cas would compare
/// against `v`, and no mismatch cas can lie after p (p is after `w`'s invocation, and they all
/// completed before it). Writes end the window, and a cas cannot end it (its compare would be
/// `v`). So the window is empty: deleting `w` leaves every other op's view unchanged. Each
/// deletion only removes observations, so the conditions still hold for the rest: iterate.
/// Values need not be unique for this.
///
/// The mismatch condition cannot be dropped: "an info write whose value no read and no cas
/// observed may be taken as not having happened" (issue #16's wording) is false. With `write 1`
/// ok, then an info `write 2` nobody reads, then a cas from 1 that fails with a mismatch, the
/// history is linearizable only if the write of 2 took effect (the register must differ from 1
/// during the cas); pruning it would report a violation that is not there
/// (`keeps_info_writes_a_later_mismatch_cas_could_depend_on`). What is left after pruning may
/// still stop mattering later in the search: see [`super::relevance`].
pub fn prune_unobserved(mut ops: Vec<KeyOp>) -> (Vec<KeyOp>, usize) {
    let before = ops.len();
    loop {
        let observed = observed(&ops);
        let last_mismatch_end = ops
            .iter()
            .filter(|op| matches!(op.input, RegisterInput::CasMismatch(_)))
            .filter_map(|op| op.end)
            .max();
        let len = ops.len();
        ops.retain(|op| {
            let Some(v) = op.input.written() else {
                return true;
            };
            let unobserved = op.end.is_none()
                && !observed.contains(&v)
                && last_mismatch_end.is_none_or(|m| m < op.start);
            !unobserved
        });
        if ops.len() == len {
            return (ops, before - len);
        }
    }
}

/// For tests: an op invoked at time `start`, whose invocation index is `start` too.
#[cfg(test)]
pub(super) fn test_op(input: RegisterInput, start: u64, end: Option<u64>) -> KeyOp {
    KeyOp::new(input, start, end, start)
}

#[cfg(test)]
mod tests {
    use super::test_op as op;
    use super::*;

    #[test]
    fn prunes_unread_info_writes_but_keeps_read_ones_and_ok_ones() {
        use RegisterInput::*;
        let ops = vec![
            op(Write(1), 0, Some(5)),
            op(Write(2), 1, None),
            op(Write(3), 2, None),
            op(Read(3), 6, Some(7)),
            op(Write(4), 8, Some(9)),
        ];
        let (kept, pruned) = prune_unobserved(ops);
        assert_eq!(pruned, 1);
        assert!(kept.iter().all(|o| o.input != Write(2)));
        assert!(kept.iter().any(|o| o.input == Write(3)));
    }

    #[test]
    fn keeps_info_writes_a_later_mismatch_cas_could_depend_on() {
        use RegisterInput::*;
        let ops = vec![
            op(Write(1), 0, Some(5)),
            op(Write(2), 6, None),
            op(CasMismatch(1), 7, Some(8)),
        ];
        assert_eq!(prune_unobserved(ops).1, 0);
    }

    #[test]
    fn pruning_cascades_through_info_cas_chains() {
        use RegisterInput::*;
        let ops = vec![op(Write(1), 0, None), op(Cas(1, 2), 1, None)];
        assert_eq!(prune_unobserved(ops).1, 2);
    }
}
