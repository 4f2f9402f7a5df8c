//! Peer benchmark: checks redline's simulated register histories (JSONL, as written by
//! `examples/gen_register_history.rs`) with todc-utils's WGL checker, for a side-by-side table.
//!
//! todc-utils has no notion of an indeterminate op, no timestamps (the order of the action
//! list is the real-time order) and no budget. The conversion, per key:
//! - actions sorted by time, calls before returns at equal times (closed intervals, as redline);
//! - `fail` ops other than a cas mismatch, and `info` reads, are dropped (they did not happen /
//!   returned nothing);
//! - an `info` write or cas gets its response after every other action, so it may be
//!   linearized at the very end, which is the same as not taking effect. For an info cas that
//!   is not enough (at the end the compare may fail), so it is modelled as "cas if it matches,
//!   else nothing", which is slightly more permissive than redline's semantics; the bench
//!   scenarios contain no cas unless asked for;
//! - a mismatch cas is a read-like op legal when the register differs from `old`;
//! - process ids are renumbered densely (todc allocates a queue per id up to the largest).
//!
//! Usage: `redline-peer-todc FILE.jsonl...`; prints one line per file.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use todc_utils::linearizability::history::{Action, History};
use todc_utils::linearizability::WGLChecker;
use todc_utils::specifications::Specification;

#[derive(Clone, Debug)]
enum RegOp {
    Read(Option<i64>),
    Write(i64),
    Cas(Option<i64>, i64),
    CasInfo(Option<i64>, i64),
    Mismatch(Option<i64>),
}

struct RegisterSpec;

impl Specification for RegisterSpec {
    type State = Option<i64>;
    type Operation = RegOp;
    fn init() -> Self::State {
        None
    }
    fn apply(op: &RegOp, state: &Option<i64>) -> (bool, Option<i64>) {
        match op {
            RegOp::Read(v) => (v == state, *state),
            RegOp::Write(v) => (true, Some(*v)),
            RegOp::Cas(o, n) if o == state => (true, Some(*n)),
            RegOp::Cas(..) => (false, *state),
            RegOp::CasInfo(o, n) => (true, if o == state { Some(*n) } else { *state }),
            RegOp::Mismatch(o) => (o != state, *state),
        }
    }
}

/// (time, is_return, process, op) per key.
type Actions = Vec<(u64, bool, usize, RegOp)>;

fn main() {
    for path in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        };
        // Timed like redline's bench: the check only, not reading or converting the file.
        let keys = convert(&text);
        let ops: usize = keys.values().map(|a| a.len() / 2).sum();
        let started = Instant::now();
        let valid = keys.into_values().all(check_key);
        let elapsed = started.elapsed();
        println!(
            "todc\t{path}\tops={ops}\tvalid={valid}\tcheck_ms={:.1}\tpeak_rss_mb={:.1}",
            elapsed.as_secs_f64() * 1e3,
            peak_rss_kb() as f64 / 1024.0
        );
    }
}

fn check_key(mut actions: Actions) -> bool {
    if actions.is_empty() {
        return true;
    }
    actions.sort_by_key(|(t, ret, _, _)| (*t, *ret));
    let mut dense: HashMap<usize, usize> = HashMap::new();
    let list = actions
        .into_iter()
        .map(|(_, ret, p, op)| {
            let n = dense.len();
            let p = *dense.entry(p).or_insert(n);
            (
                p,
                if ret {
                    Action::Response(op)
                } else {
                    Action::Call(op)
                },
            )
        })
        .collect();
    WGLChecker::<RegisterSpec>::is_linearizable(History::from_actions(list))
}

fn convert(text: &str) -> BTreeMap<String, Actions> {
    let records: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let end = records
        .iter()
        .filter_map(|r| r["time"].as_u64())
        .max()
        .unwrap_or(0)
        + 1;
    let mut open: HashMap<u64, &Value> = HashMap::new();
    let mut keys: BTreeMap<String, Actions> = BTreeMap::new();
    let pair = |inv: &Value, done: Option<&Value>, keys: &mut BTreeMap<String, Actions>| {
        let key = inv["key"].as_str().unwrap_or("").to_string();
        let p = inv["process"].as_u64().unwrap_or(0) as usize;
        let f = inv["f"].as_str().unwrap_or("");
        let kind = done.and_then(|d| d["type"].as_str()).unwrap_or("info");
        let err = done.and_then(|d| d["error"].as_str());
        let v = &inv["value"];
        let op = match (f, kind) {
            ("read", "ok") => RegOp::Read(done.and_then(|d| d["value"].as_i64())),
            ("write", "ok" | "info") => RegOp::Write(v.as_i64().unwrap_or(0)),
            ("cas", "ok") => RegOp::Cas(v[0].as_i64(), v[1].as_i64().unwrap_or(0)),
            ("cas", "info") => RegOp::CasInfo(v[0].as_i64(), v[1].as_i64().unwrap_or(0)),
            ("cas", "fail") if err == Some("mismatch") => RegOp::Mismatch(v[0].as_i64()),
            _ => return,
        };
        let t0 = inv["time"].as_u64().unwrap_or(0);
        let t1 = match (kind, done) {
            ("info", _) | (_, None) => end,
            (_, Some(d)) => d["time"].as_u64().unwrap_or(end),
        };
        let a = keys.entry(key).or_default();
        a.push((t0, false, p, op.clone()));
        a.push((t1, true, p, op));
    };
    for r in &records {
        let Some(p) = r["process"].as_u64() else {
            continue;
        };
        if r["type"] == "invoke" {
            open.insert(p, r);
        } else if let Some(inv) = open.remove(&p) {
            pair(inv, Some(r), &mut keys);
        }
    }
    for inv in open.into_values() {
        pair(inv, None, &mut keys);
    }
    keys
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
