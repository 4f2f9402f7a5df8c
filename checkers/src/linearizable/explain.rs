//! Turning a failed search into an anomaly a person can check by hand.
//!
//! The search returns the longest linearizable prefix it found. The op cited as the first that
//! cannot be linearized is, among the ops left out of that prefix, the one that completed first:
//! it had to take effect before its completion, so it is the one the prefix cannot be extended
//! past. The explanation says what the register holds after the prefix and why that op cannot
//! follow, and lists the ops concurrent with it (the ones whose other orders were also tried).

use super::key_history::{KeyHistory, KeyOp};
use super::model::{describe, RegisterInput, Value, NULL};
use super::search::Step;
use crate::names::kind;
use crate::result::Anomaly;
use serde_json::json;

/// Prefix entries shown in the explanation text (the rest are elided, all are in details).
const PREFIX_SHOWN: usize = 10;
/// Prefix entries kept in the details JSON (the last ones).
const PREFIX_DETAILS: usize = 200;
/// Concurrent ops cited as witnesses.
const CONCURRENT_SHOWN: usize = 20;

/// When an op was invoked or completed: a clock time, or in a history without times the
/// record's position (its times are positions, see [`KeyHistory::clocked`]).
fn when(key: &KeyHistory, t: u64) -> String {
    if key.clocked {
        format!("{:.3} ms", t as f64 / 1e6)
    } else {
        format!("record {t}")
    }
}

/// The register named in an explanation: a keyless (Jepsen or Knossos) history has one.
fn register_name(key: &KeyHistory) -> String {
    if key.key.is_empty() {
        "the register".to_string()
    } else {
        format!("key {}", key.key)
    }
}

/// The `nonlinearizable` anomaly for one key. `window`: the violation was proved on the ops
/// around the stuck op, this many return positions back ([`super::window`]).
pub fn anomaly(key: &KeyHistory, prefix: &[Step], window: Option<u32>) -> Anomaly {
    let ops = &key.ops;
    let in_prefix: std::collections::HashSet<usize> =
        prefix.iter().map(|s| s.op as usize).collect();
    let stuck = (0..ops.len())
        .filter(|i| !in_prefix.contains(i))
        .filter_map(|i| ops[i].end.map(|e| (e, ops[i].start, i)))
        .min()
        .map_or(0, |(_, _, i)| i);
    let op = &ops[stuck];
    let held = held_after(key, prefix);
    let state = held.last().copied().unwrap_or(NULL);
    let what = describe(&key.values, &op.shown);
    let mut concurrent: Vec<usize> = (0..ops.len())
        .filter(|&i| i != stuck && overlaps(&ops[i], op))
        .collect();
    concurrent.sort_by_key(|&i| ops[i].start);
    concurrent.truncate(CONCURRENT_SHOWN);

    let explanation = format!(
        "{key_name}: {what} at op {idx} (invoked {start}, completed {end}) cannot be \
         linearized: after the longest linearizable prefix the search found [{prefix_text}] the \
         register holds {held} and {reason}. {tried}; concurrent ops: [{conc}].",
        key_name = register_name(key),
        idx = op.invoke_index,
        start = when(key, op.start),
        end = op.end.map_or("never".to_string(), |e| when(key, e)),
        prefix_text = prefix_text(key, prefix, &held),
        held = key.values.text(state),
        reason = reason(key, prefix, stuck, state),
        tried = tried(window),
        conc = concurrent
            .iter()
            .map(|&i| cite(key, i))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let mut witnesses = vec![op.invoke_index];
    witnesses.extend(concurrent.iter().map(|&i| ops[i].invoke_index));
    let shown = &prefix[prefix.len().saturating_sub(PREFIX_DETAILS)..];
    let details = json!({
        "prefix": shown.iter().zip(&held[prefix.len() - shown.len()..]).map(|(s, &h)| json!({
            "op": ops[s.op as usize].invoke_index,
            "f": describe(&key.values, &ops[s.op as usize].shown),
            "state": key.values.text(h),
        })).collect::<Vec<_>>(),
        "prefix_length": prefix.len(),
        "first_unlinearizable": op.invoke_index,
        "concurrent": concurrent.iter().map(|&i| ops[i].invoke_index).collect::<Vec<_>>(),
        "state": key.values.text(state),
        "window_returns": window,
    });
    Anomaly::new(kind::NONLINEARIZABLE, witnesses, explanation)
        .with_key(key.key.clone())
        .with_details(details)
}

/// What the search tried before concluding.
fn tried(window: Option<u32>) -> String {
    match window {
        None => "Every order of the ops concurrent with it was tried and none works".to_string(),
        Some(span) => format!(
            "Checked on the ops around it, from {span} returns before it: no order of them gets \
             past it, whatever value the register held before them, so no earlier op can help"
        ),
    }
}

fn overlaps(a: &KeyOp, b: &KeyOp) -> bool {
    a.start <= b.end.unwrap_or(u64::MAX) && b.start <= a.end.unwrap_or(u64::MAX)
}

fn cite(key: &KeyHistory, i: usize) -> String {
    let op = &key.ops[i];
    let info = if op.end.is_none() { ", info" } else { "" };
    format!(
        "op {} ({}{info})",
        op.invoke_index,
        describe(&key.values, &op.shown)
    )
}

/// The value the register holds after each step of the prefix, as recorded (the search's states
/// merge values nobody observed; every op of a prefix that writes did take effect).
fn held_after(key: &KeyHistory, prefix: &[Step]) -> Vec<Value> {
    let mut held = NULL;
    prefix
        .iter()
        .map(|s| {
            if let Some(v) = key.ops[s.op as usize].shown.written() {
                held = v;
            }
            held
        })
        .collect()
}

fn prefix_text(key: &KeyHistory, prefix: &[Step], held: &[Value]) -> String {
    if prefix.is_empty() {
        return "empty: no op can come first".to_string();
    }
    let skip = prefix.len().saturating_sub(PREFIX_SHOWN);
    let mut parts: Vec<String> = Vec::new();
    if skip > 0 {
        parts.push(format!("... {skip} earlier ops ..."));
    }
    parts.extend(prefix[skip..].iter().zip(&held[skip..]).map(|(s, &h)| {
        format!(
            "op {} ({}) -> {}",
            key.ops[s.op as usize].invoke_index,
            describe(&key.values, &key.ops[s.op as usize].shown),
            key.values.text(h)
        )
    }));
    parts.join(", ")
}

/// Why op `stuck` cannot follow the prefix, in words.
fn reason(key: &KeyHistory, prefix: &[Step], stuck: usize, state: Value) -> String {
    let ops = &key.ops;
    let text = |v| key.values.text(v);
    match ops[stuck].shown {
        RegisterInput::Read(NULL) => {
            "nil is only the initial state: no op deletes the key, so a read of nil cannot \
             follow a write that completed before it began"
                .to_string()
        }
        RegisterInput::Read(v) | RegisterInput::Cas(v, _) => {
            let need = if matches!(ops[stuck].shown, RegisterInput::Read(_)) {
                format!("it needs {}", text(v))
            } else {
                format!("its compare needs {}", text(v))
            };
            format!("{need}: {}", writer_fate(key, prefix, stuck, v))
        }
        RegisterInput::CasMismatch(v) => format!(
            "the cas failed with a mismatch, so the register did not hold {} at some point in \
             its interval; here it holds {} and no write that could change it in time remains",
            text(v),
            text(state)
        ),
        RegisterInput::Write(_) => {
            "every continuation after it was searched and fails (the ops that must follow it \
             cannot be ordered)"
                .to_string()
        }
    }
}

/// What became of the ops that write `v`, from the point of view of op `stuck`.
fn writer_fate(key: &KeyHistory, prefix: &[Step], stuck: usize, v: Value) -> String {
    let ops = &key.ops;
    let writers: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].shown.written() == Some(v))
        .collect();
    let Some(&w) = writers.first() else {
        return format!(
            "no write or cas that may have taken effect ever wrote {}",
            key.values.text(v)
        );
    };
    if let Some(pos) = prefix.iter().position(|s| s.op as usize == w) {
        let over = prefix[pos + 1..]
            .iter()
            .find(|s| ops[s.op as usize].shown.written().is_some_and(|x| x != v));
        return match over {
            Some(s) => format!(
                "the op that wrote it ({}) is already in the prefix, overwritten by {}, which \
                 completed before op {} began or had to precede it",
                cite(key, w),
                cite(key, s.op as usize),
                ops[stuck].invoke_index
            ),
            None => format!("the op that wrote it ({}) is in the prefix", cite(key, w)),
        };
    }
    let stuck_end = ops[stuck].end.unwrap_or(u64::MAX);
    if ops[w].start > stuck_end {
        return format!(
            "the only op that wrote it ({}) was invoked at {}, after op {} completed",
            cite(key, w),
            when(key, ops[w].start),
            ops[stuck].invoke_index
        );
    }
    format!(
        "no pending write of it remains that can take effect in time ({} cannot be placed \
         before op {} without breaking another op)",
        cite(key, w),
        ops[stuck].invoke_index
    )
}
