//! The availability checker (informational, Jepsen's `perf` in numbers): outcome counts per
//! function and per node, latency quantiles, throughput over time, and unavailability windows
//! around faults. It never fails a run and reports no anomalies: `valid` is true, or `unknown`
//! for a history without a single client operation (nothing ran, so nothing was checked).
//!
//! An *unavailability window* opens at the completion of the first `fail`/`info` after a
//! success (or at the start) and closes at the completion of the next `ok`; one still open at
//! the end of the history closes at the history's end and is marked open. Windows are computed
//! over all client operations and per `f`. A *fault interval* runs from a nemesis invocation
//! (kill, pause, partition, delay) to the next invocation that undoes it (start, resume, heal,
//! undelay), or to the end of the history; promote and failover span their own invocation to
//! completion. The final reads after healing are left out: they measure the harness, not the
//! service under faults.

use crate::final_reads::{declarations, node_of};
use crate::history::{Function, History, Op, OpType, Operation, Process, RealtimeOrder};
use crate::names::stat;
use crate::quantiles::{quantile, sorted};
use crate::registry::CheckOptions;
use crate::result::CheckResult;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How many windows are listed in full per group.
const WINDOWS_LISTED: usize = 20;
const NS_PER_MS: f64 = 1e6;

/// One unavailability window (ns).
#[derive(Debug, Clone, PartialEq)]
struct Window {
    start: u64,
    end: u64,
    /// Completion index of the first unsuccessful op, and of the ok that closed it.
    first_op: u64,
    closed_by: Option<u64>,
    unsuccessful: u64,
}

/// Reports outcome counts, latencies, throughput and unavailability. Valid, or unknown when
/// there is no client operation.
pub fn check(history: &History, _opts: &CheckOptions) -> CheckResult {
    let ops: Vec<Operation<'_>> = history
        .operations()
        .filter(|o| !o.invoke.is_final && !o.completion.is_some_and(|c| c.is_final))
        .collect();
    if ops.is_empty() {
        // Nothing ran: a history without a client operation must not read as a pass.
        return CheckResult::unknown(
            "the history has no client operation (besides final reads): nothing was checked",
        );
    }
    let end = history.end_time();
    let mut stats = Map::new();
    stats.insert("by_f".into(), counts_by(&ops, |o| o.invoke.f.to_string()));
    stats.insert(
        "by_node".into(),
        counts_by(&ops, |o| node_of(o).unwrap_or("unknown").to_string()),
    );
    if history.realtime() == RealtimeOrder::HistoryOrder {
        // Without a clock the times are record positions: latencies, throughput and windows
        // would be numbers about the file, not the system. Only the counts mean something.
        let mut result = CheckResult::from_anomalies(Vec::new(), stats);
        result.notes.push(
            "the history has no clock (record order is real-time order), so latency, \
             throughput and unavailability were not computed"
                .into(),
        );
        return result;
    }
    stats.insert("latency_ms".into(), latencies(&ops));
    if let Some(keys) = keys_used(&ops) {
        stats.insert(stat::KEYS.into(), json!(keys));
    }
    throughput(&ops, &mut stats);
    let overall = windows(ops.iter(), end);
    let mut by_f: BTreeMap<&str, Vec<Window>> = BTreeMap::new();
    for f in ops.iter().map(|o| o.invoke.f.as_str()) {
        if !by_f.contains_key(f) {
            by_f.insert(f, windows(ops.iter().filter(|o| o.invoke.f == f), end));
        }
    }
    stats.insert(
        "faults".into(),
        fault_intervals(history, &ops, &overall, end),
    );
    stats.insert(stat::UNAVAILABILITY.into(), windows_json(&overall));
    let by_f: Map<String, Value> = by_f
        .iter()
        .map(|(f, w)| (f.to_string(), windows_json(w)))
        .collect();
    stats.insert("unavailability_by_f".into(), Value::Object(by_f));
    failovers(history, &mut stats);
    CheckResult::from_anomalies(Vec::new(), stats)
}

/// How many keys the client operations named in their `key`; `None` when none names one (a
/// transactional history: txn-cycles counts its micro-ops' keys, which a lean reading of
/// the history does not keep here). A workload that moves on to fresh keys as they fill uses
/// many.
fn keys_used(ops: &[Operation<'_>]) -> Option<usize> {
    let mut keys: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for k in ops.iter().filter_map(|o| o.invoke.key.as_deref()) {
        keys.insert(k);
    }
    (!keys.is_empty()).then_some(keys.len())
}

/// Failover time: for every change of master the history declares during the workload (a
/// promotion, Sentinel's `+switch-master`), the time since the fault that preceded it. The
/// final phase (from `heal-all` on) is left out: a master adopted there ends no fault.
fn failovers(history: &History, stats: &mut Map<String, Value>) {
    let healed_at = history
        .nemesis_ops()
        .find(|o| o.f == Function::HealAll)
        .map_or(u64::MAX, |o| o.time);
    let faults: Vec<&Op> = history
        .nemesis_ops()
        .filter(|o| o.op_type == OpType::Invoke)
        .filter(|o| o.f.is_fault())
        .collect();
    let mut list = Vec::new();
    let mut times = Vec::new();
    for d in declarations(history).iter().filter(|d| d.time < healed_at) {
        let Some(fault) = faults.iter().rev().find(|f| f.time <= d.time) else {
            continue;
        };
        let ms = (d.time - fault.time) as f64 / 1e6;
        times.push(ms);
        list.push(
            json!({"fault_op": fault.index, "fault": fault.f, "declared_op": d.index,
                         "new_master": d.node, "ms": ms}),
        );
    }
    let times = sorted(times);
    stats.insert("failovers".into(), Value::Array(list));
    stats.insert("failover_ms_p50".into(), json!(quantile(&times, 0.5)));
    stats.insert(stat::FAILOVER_MS_MAX.into(), json!(times.last()));
}

fn outcome_name(o: &Operation<'_>) -> &'static str {
    match o.outcome() {
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        _ => "info",
    }
}

/// `{group: {"ok": n, "fail": n, "info": n}}`.
fn counts_by(ops: &[Operation<'_>], group: impl Fn(&Operation<'_>) -> String) -> Value {
    let mut m: BTreeMap<String, BTreeMap<&str, u64>> = BTreeMap::new();
    for o in ops {
        let entry = m
            .entry(group(o))
            .or_insert_with(|| [("ok", 0), ("fail", 0), ("info", 0)].into_iter().collect());
        *entry.entry(outcome_name(o)).or_default() += 1;
    }
    json!(m)
}

/// `{f: {"p50": ms, "p99": ms, "max": ms}}` over ok operations.
fn latencies(ops: &[Operation<'_>]) -> Value {
    let mut samples: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.outcome() == OpType::Ok) {
        let ns = o.last().time.saturating_sub(o.invoke.time);
        samples
            .entry(o.invoke.f.as_str())
            .or_default()
            .push(ns as f64 / NS_PER_MS);
    }
    let m: Map<String, Value> = samples
        .into_iter()
        .map(|(f, v)| {
            let s = sorted(v);
            let q = |x| quantile(&s, x);
            (
                f.to_string(),
                json!({"p50": q(0.5), "p99": q(0.99), "max": q(1.0)}),
            )
        })
        .collect();
    Value::Object(m)
}

/// The most buckets `throughput_series` has, whatever the times: a history timed in epoch
/// nanoseconds (or hostile ones) must not size an allocation.
const MAX_BUCKETS: u64 = 10_000;

/// `throughput_ok_per_s` over the client span, and `throughput_series`: ok completions per
/// bucket of `throughput_bucket_s` seconds (1 s unless the span needs more than
/// [`MAX_BUCKETS`]), bucket i covering [first + i w, first + (i+1) w) from the first
/// invocation (`throughput_series_start_ms`).
fn throughput(ops: &[Operation<'_>], stats: &mut Map<String, Value>) {
    let ok_times: Vec<u64> = ops
        .iter()
        .filter(|o| o.outcome() == OpType::Ok)
        .map(|o| o.last().time)
        .collect();
    let first = ops.iter().map(|o| o.invoke.time).min().unwrap_or(0);
    let last = ops.iter().map(|o| o.last().time).max().unwrap_or(0);
    let span = last.saturating_sub(first);
    let span_s = span as f64 / 1e9;
    let rate = if span_s > 0.0 {
        ok_times.len() as f64 / span_s
    } else {
        0.0
    };
    let width_s = (span / 1_000_000_000 + 1).div_ceil(MAX_BUCKETS).max(1);
    let width = width_s.saturating_mul(1_000_000_000);
    let bucket = |t: u64| (t.saturating_sub(first) / width).min(MAX_BUCKETS - 1) as usize;
    let mut series = vec![0u64; ok_times.iter().map(|&t| bucket(t) + 1).max().unwrap_or(0)];
    for &t in &ok_times {
        series[bucket(t)] += 1;
    }
    stats.insert(stat::THROUGHPUT_OK_PER_S.into(), json!(rate));
    stats.insert("throughput_series".into(), json!(series));
    stats.insert("throughput_bucket_s".into(), json!(width_s));
    stats.insert(
        "throughput_series_start_ms".into(),
        json!(first as f64 / NS_PER_MS),
    );
}

/// Unavailability windows over `ops`, by completion time.
fn windows<'o, 'a: 'o>(ops: impl Iterator<Item = &'o Operation<'a>>, end: u64) -> Vec<Window> {
    let mut done: Vec<&Op> = ops.filter_map(|o| o.completion).collect();
    done.sort_by_key(|c| (c.time, c.index));
    let mut out = Vec::new();
    let mut open: Option<Window> = None;
    for c in done {
        match (c.op_type == OpType::Ok, open.as_mut()) {
            (true, Some(w)) => {
                w.end = c.time;
                w.closed_by = Some(c.index);
                out.extend(open.take());
            }
            (false, Some(w)) => w.unsuccessful += 1,
            (false, None) => {
                open = Some(Window {
                    start: c.time,
                    end,
                    first_op: c.index,
                    closed_by: None,
                    unsuccessful: 1,
                })
            }
            (true, None) => {}
        }
    }
    out.extend(open);
    out
}

fn windows_json(ws: &[Window]) -> Value {
    let len = |w: &Window| (w.end - w.start) as f64 / NS_PER_MS;
    let listed: Vec<Value> = ws
        .iter()
        .take(WINDOWS_LISTED)
        .map(|w| {
            json!({
                "start_ms": w.start as f64 / NS_PER_MS,
                "end_ms": w.end as f64 / NS_PER_MS,
                "length_ms": len(w),
                "unsuccessful": w.unsuccessful,
                "first_op": w.first_op,
                "closed_by": w.closed_by,
                "open": w.closed_by.is_none(),
            })
        })
        .collect();
    json!({
        "windows": ws.len(),
        "total_ms": ws.iter().map(len).sum::<f64>(),
        "max_ms": ws.iter().map(len).fold(0.0, f64::max),
        "list": listed,
    })
}

/// Per fault interval: its span, client outcomes completed in it, and how much of it fell
/// inside overall unavailability windows.
fn fault_intervals(
    history: &History,
    ops: &[Operation<'_>],
    overall: &[Window],
    end: u64,
) -> Value {
    let nemesis: Vec<(usize, &Op)> = history
        .ops()
        .iter()
        .enumerate()
        .filter(|(_, o)| o.process == Process::Nemesis && o.op_type == OpType::Invoke)
        .collect();
    let mut out = Vec::new();
    for (k, (pos, inv)) in nemesis.iter().enumerate() {
        let stop = match inv.f.heal() {
            Some(h) => nemesis[k + 1..]
                .iter()
                .find(|(_, o)| o.f == h)
                .map_or(end, |(_, o)| o.time),
            None if inv.f.changes_master() => history
                .partner(*pos)
                .map_or(inv.time, |p| history.ops()[p].time),
            None => continue,
        };
        let mut counts: BTreeMap<&str, u64> = [("ok", 0), ("fail", 0), ("info", 0)].into();
        for o in ops.iter().filter(|o| o.completion.is_some()) {
            if (inv.time..=stop).contains(&o.last().time) {
                *counts.entry(outcome_name(o)).or_default() += 1;
            }
        }
        let unavailable: u64 = overall
            .iter()
            .map(|w| w.end.min(stop).saturating_sub(w.start.max(inv.time)))
            .sum();
        out.push(json!({
            "f": inv.f, "value": inv.value, "op": inv.index,
            "start_ms": inv.time as f64 / NS_PER_MS, "end_ms": stop as f64 / NS_PER_MS,
            "ok": counts["ok"], "fail": counts["fail"], "info": counts["info"],
            "unavailable_ms": unavailable as f64 / NS_PER_MS,
        }));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_reads::test_support::Builder;
    use crate::result::Validity;

    fn op(b: Builder, t0: f64, t1: f64, p: u64, f: &str, outcome: &str) -> Builder {
        b.invoke(t0, p, f, json!(1))
            .node("n1")
            .client(t1, p, outcome, f, json!(1))
            .node("n1")
    }

    #[test]
    fn failover_time_runs_from_the_fault_to_the_new_masters_declaration() {
        let b = op(
            Builder::with_key("s").topology(0.0, "n1"),
            1.0,
            2.0,
            0,
            "add",
            "ok",
        );
        let b = b.nemesis(1000.0, "invoke", "partition", json!({"grudge": "minority"}));
        let b = b.topology(2500.0, "n2");
        let b = op(b, 2600.0, 2601.0, 1, "add", "ok");
        let b = b.nemesis(3000.0, "invoke", "heal-all", Value::Null);
        let b = b.topology(3100.0, "n3"); // adopted while converging: no fault ends there
        let r = check(&b.build(), &CheckOptions::default());
        assert_eq!(r.stats["failover_ms_max"], json!(1500.0));
        assert_eq!(r.stats["failovers"].as_array().unwrap().len(), 1);
        assert_eq!(r.stats["failovers"][0]["new_master"], "n2");
    }

    #[test]
    fn counts_latency_and_throughput() {
        let b = op(Builder::with_key("s"), 0.0, 2.0, 0, "add", "ok");
        let b = op(b, 3.0, 4.0, 0, "add", "fail");
        let b = op(b, 1500.0, 1504.0, 1, "read", "ok");
        let b = op(b, 1600.0, 1601.0, 1, "read", "ok").with(json!({"final": true}));
        let r = check(&b.build(), &CheckOptions::default());
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.anomalies.is_empty());
        assert_eq!(
            r.stats["by_f"]["add"],
            json!({"ok": 1, "fail": 1, "info": 0})
        );
        assert_eq!(r.stats["by_node"]["n1"]["ok"], json!(2));
        assert_eq!(r.stats["latency_ms"]["add"]["max"], json!(2.0));
        assert_eq!(r.stats["latency_ms"]["read"]["p50"], json!(4.0));
        assert_eq!(r.stats["throughput_series"], json!([1, 1]));
        assert_eq!(r.stats["keys"], json!(1));
    }

    #[test]
    fn a_clockless_history_gets_counts_but_no_times() {
        let text = r#"{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":1}
"#;
        let h = crate::history::jsonl::read_str(text).unwrap().history;
        assert_eq!(h.realtime(), RealtimeOrder::HistoryOrder);
        let r = check(&h, &CheckOptions::default());
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.stats["by_f"]["read"]["ok"], json!(1));
        for timed in ["latency_ms", "throughput_ok_per_s", "unavailability"] {
            assert!(
                !r.stats.contains_key(timed),
                "{timed} from record positions"
            );
        }
        assert!(r.notes[0].contains("no clock"), "{:?}", r.notes);
    }

    #[test]
    fn epoch_nanosecond_times_give_a_bounded_series() {
        // Times since 1970 in ns (1.7e18): buckets are counted from the first op, and a span
        // of decades is folded into at most MAX_BUCKETS buckets.
        let epoch = 1.7e12; // ms
        let b = op(Builder::with_key("s"), epoch, epoch + 2.0, 0, "add", "ok");
        let b = op(b, epoch + 3000.0, epoch + 3001.0, 0, "add", "ok");
        let r = check(&b.build(), &CheckOptions::default());
        assert_eq!(r.stats["throughput_series"], json!([1, 0, 0, 1]));
        let b = op(Builder::with_key("s"), 0.0, 1.0, 0, "add", "ok");
        let b = op(b, epoch, epoch + 1.0, 0, "add", "ok");
        let r = check(&b.build(), &CheckOptions::default());
        let series = r.stats["throughput_series"].as_array().unwrap();
        assert!(series.len() as u64 <= MAX_BUCKETS, "{}", series.len());
        assert_eq!(series.iter().filter_map(Value::as_u64).sum::<u64>(), 2);
    }

    #[test]
    fn no_client_operation_is_unknown_not_valid() {
        let b = Builder::with_key("s").nemesis(1.0, "info", "kill", json!(["n1"]));
        let r = check(&b.build(), &CheckOptions::default());
        assert_eq!(r.valid, Validity::Unknown);
        assert!(r.skipped.is_none());
        assert!(r.notes[0].contains("no client operation"), "{:?}", r.notes);
    }

    #[test]
    fn window_from_first_failure_to_next_ok_and_fault_interval() {
        let b = op(Builder::with_key("s"), 0.0, 1.0, 0, "add", "ok");
        let b = b.nemesis(2.0, "invoke", "kill", json!(["n1"]));
        let b = op(b, 3.0, 5.0, 0, "add", "fail");
        let b = op(b, 6.0, 10.0, 1, "add", "info");
        let b = b.nemesis(12.0, "invoke", "start", json!(["n1"]));
        let b = op(b, 13.0, 15.0, 2, "add", "ok");
        let r = check(&b.build(), &CheckOptions::default());
        let u = &r.stats["unavailability"];
        assert_eq!(u["windows"], json!(1));
        assert_eq!(u["list"][0]["start_ms"], json!(5.0));
        assert_eq!(u["list"][0]["length_ms"], json!(10.0));
        assert_eq!(u["list"][0]["unsuccessful"], json!(2));
        let fault = &r.stats["faults"][0];
        assert_eq!(fault["f"], json!("kill"));
        assert_eq!(fault["end_ms"], json!(12.0));
        assert_eq!(fault["unavailable_ms"], json!(7.0));
        assert_eq!(fault["fail"], json!(1));
        assert_eq!(r.stats["unavailability_by_f"]["add"]["windows"], json!(1));
    }

    #[test]
    fn window_open_at_the_end_is_marked_open() {
        let b = op(Builder::with_key("s"), 0.0, 1.0, 0, "add", "ok");
        let b = op(b, 2.0, 3.0, 0, "add", "fail");
        let b = b.nemesis(9.0, "info", "heal", Value::Null);
        let r = check(&b.build(), &CheckOptions::default());
        let w = &r.stats["unavailability"]["list"][0];
        assert_eq!(w["open"], json!(true));
        assert_eq!(w["end_ms"], json!(9.0));
        assert_eq!(r.valid, Validity::Valid);
    }
}
