//! The wait checker (wait / waitaof workloads): lost writes grouped by how many replicas WAIT
//! (or WAITAOF) said had them, and the writes whose acknowledgement level should have saved
//! them.
//!
//! How WAIT's reply is read: `acked = k` means k replicas had processed the write when WAIT
//! returned. WAIT never rolls a write back: a write whose WAIT timed out (`acked < replicas`)
//! still completed `ok` and may well survive; it is only *below the threshold*. Redis promises
//! nothing for such writes, so losing one is a statistic (`lost_by_acked`), not an anomaly.
//! A lost write whose `acked` reached the threshold (`--expect wait-durable=N`, else the
//! write's own requested `replicas`) is `wait-durable-lost`, with the fault sequence that led
//! to it. WAITAOF likewise: `acked_replicas` against `--expect waitaof-durable=R` (else the
//! request, which then also requires `acked_local >= local`).
//!
//! A write refused with NOREPLICAS (`min-replicas-to-write`) did not happen; if a read returns
//! it, that is `failed-but-visible`. Loss itself is decided exactly as in
//! [`crate::lost_writes`] (the post-failover master's final read).

use crate::final_reads::node_of;
use crate::history::{History, Operation};
use crate::lost_writes::analysis::{AddStatus, Element, Fate, KeyAnalysis, SetAnalysis};
use crate::lost_writes::{analyse, faults};
use crate::names::{kind, stat};
use crate::registry::CheckOptions;
use crate::result::{Anomaly, CheckResult, Validity};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const FAULTS_QUOTED: usize = 10;

/// What WAIT or WAITAOF asked for and got, for one acknowledged write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    Wait {
        requested: u64,
        acked: Option<u64>,
    },
    WaitAof {
        local: u64,
        replicas: u64,
        acked_local: Option<u64>,
        acked_replicas: Option<u64>,
    },
}

fn acks(add: &Operation<'_>) -> Vec<Ack> {
    let mut v = Vec::new();
    let done = add.completion;
    if let Some(w) = add
        .invoke
        .wait
        .as_ref()
        .or(done.and_then(|c| c.wait.as_ref()))
    {
        let acked = done.and_then(|c| c.wait.as_ref()).and_then(|w| w.acked);
        v.push(Ack::Wait {
            requested: w.replicas,
            acked,
        });
    }
    if let Some(w) = add
        .invoke
        .waitaof
        .as_ref()
        .or(done.and_then(|c| c.waitaof.as_ref()))
    {
        let got = done.and_then(|c| c.waitaof.as_ref());
        v.push(Ack::WaitAof {
            local: w.local,
            replicas: w.replicas,
            acked_local: got.and_then(|g| g.acked_local),
            acked_replicas: got.and_then(|g| g.acked_replicas),
        });
    }
    v
}

impl Ack {
    /// The bucket name in `*_by_acked` statistics.
    fn bucket(self) -> String {
        let n = |x: Option<u64>| x.map_or("unknown".to_string(), |k| k.to_string());
        match self {
            Ack::Wait { acked, .. } => n(acked),
            Ack::WaitAof {
                acked_local,
                acked_replicas,
                ..
            } => format!("{}/{}", n(acked_local), n(acked_replicas)),
        }
    }

    /// Whether the acknowledgement reached the durability threshold. An unknown count never
    /// does: we cannot claim a promise was made.
    fn durable(self, opts: &CheckOptions) -> bool {
        match self {
            Ack::Wait { requested, acked } => {
                acked.is_some_and(|a| a >= opts.wait_durable.unwrap_or(requested))
            }
            Ack::WaitAof {
                local,
                replicas,
                acked_local,
                acked_replicas,
            } => match opts.waitaof_durable {
                Some(r) => acked_replicas.is_some_and(|a| a >= r),
                None => {
                    acked_replicas.is_some_and(|a| a >= replicas)
                        && acked_local.is_some_and(|a| a >= local)
                }
            },
        }
    }

    fn timed_out(self) -> bool {
        match self {
            Ack::Wait { requested, acked } => acked.is_some_and(|a| a < requested),
            Ack::WaitAof {
                local,
                replicas,
                acked_local,
                acked_replicas,
            } => {
                acked_local.is_some_and(|a| a < local)
                    || acked_replicas.is_some_and(|a| a < replicas)
            }
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Ack::Wait { .. } => kind::WAIT_DURABLE_LOST,
            Ack::WaitAof { .. } => kind::WAITAOF_DURABLE_LOST,
        }
    }

    fn words(self, opts: &CheckOptions) -> String {
        let n = |x: Option<u64>| x.map_or("?".to_string(), |k| k.to_string());
        match self {
            Ack::Wait { requested, acked } => format!(
                "WAIT {requested} reported {} replica(s) acknowledged (threshold {})",
                n(acked),
                opts.wait_durable
                    .map_or(format!("{requested}, as requested"), |t| t.to_string())
            ),
            Ack::WaitAof {
                local,
                replicas,
                acked_local,
                acked_replicas,
            } => format!(
                "WAITAOF {local} {replicas} reported local fsync {} and {} replica fsync(s) \
                 (threshold {})",
                n(acked_local),
                n(acked_replicas),
                opts.waitaof_durable.map_or(
                    format!("{local} local and {replicas} replicas, as requested"),
                    |t| format!("{t} replicas")
                )
            ),
        }
    }
}

/// Tallies per acknowledgement bucket.
#[derive(Default)]
struct Tally {
    acknowledged: BTreeMap<String, u64>,
    lost: BTreeMap<String, u64>,
    aof_acknowledged: BTreeMap<String, u64>,
    aof_lost: BTreeMap<String, u64>,
    timed_out: u64,
    timed_out_but_visible: u64,
    below_threshold_lost: Vec<u64>,
}

/// Checks a wait / waitaof history. Skipped when no write carries WAIT or WAITAOF.
pub fn check(history: &History, opts: &CheckOptions) -> CheckResult {
    let any_wait = history
        .operations()
        .any(|o| o.invoke.wait.is_some() || o.invoke.waitaof.is_some());
    if !any_wait {
        return CheckResult::skipped("no write in the history carries WAIT or WAITAOF");
    }
    let analysis = analyse(history);
    let mut tally = Tally::default();
    let mut anomalies = Vec::new();
    for key in &analysis.keys {
        for e in &key.elements {
            anomalies.extend(judge(history, &analysis, key, e, opts, &mut tally));
        }
    }
    let mut result = CheckResult::from_anomalies(anomalies, stats(&tally, opts));
    let counts = result.counts_by_kind();
    for (k, name) in [
        (kind::WAIT_DURABLE_LOST, "wait_durable_lost"),
        (kind::WAITAOF_DURABLE_LOST, "waitaof_durable_lost"),
        (kind::FAILED_BUT_VISIBLE, "failed_but_visible"),
    ] {
        result
            .stats
            .insert(name.into(), json!(counts.get(k).copied().unwrap_or(0)));
    }
    result.notes = analysis.notes.clone();
    if !tally.below_threshold_lost.is_empty() {
        let ids: Vec<String> = tally
            .below_threshold_lost
            .iter()
            .map(u64::to_string)
            .collect();
        result.notes.push(format!(
            "lost writes below the durability threshold (no promise broken; see lost_by_acked), \
             add invocation ops: [{}]",
            ids.join(", ")
        ));
    }
    let undecided = analysis
        .keys
        .iter()
        .any(|k| k.final_read.is_none() && !k.elements.is_empty());
    if undecided {
        result.notes.push(
            "some keys have no successful final read on the post-failover master: loss \
             cannot be decided for them"
                .into(),
        );
        if result.valid == Validity::Valid {
            result.valid = Validity::Unknown;
        }
    }
    result
}

/// Tallies one element and returns its anomalies.
fn judge(
    history: &History,
    analysis: &SetAnalysis<'_>,
    key: &KeyAnalysis<'_>,
    e: &Element<'_>,
    opts: &CheckOptions,
    tally: &mut Tally,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    if e.status == AddStatus::Fail {
        let error = e.add.last().error.as_deref().unwrap_or("");
        if error.to_uppercase().contains("NOREPLICAS") {
            if let Some(r) = e.first_seen.map(|s| &key.reads[s]) {
                let mut ops = e.add.indices();
                ops.extend(r.op.indices());
                let text = format!(
                    "Element {} of key {}: the master refused its write with NOREPLICAS (ops \
                     {:?}, {error:?}), so it did not happen, yet read ops {:?} on {} returned it.",
                    e.element,
                    key_name(key),
                    e.add.indices(),
                    r.op.indices(),
                    r.node().unwrap_or("?"),
                );
                out.push(Anomaly::new(kind::FAILED_BUT_VISIBLE, ops, text));
            }
        }
        return out;
    }
    if e.status != AddStatus::Ok {
        return out;
    }
    let lost = e.fate == Some(Fate::Lost);
    for ack in acks(&e.add) {
        let (acknowledged, lost_map) = match ack {
            Ack::Wait { .. } => (&mut tally.acknowledged, &mut tally.lost),
            Ack::WaitAof { .. } => (&mut tally.aof_acknowledged, &mut tally.aof_lost),
        };
        *acknowledged.entry(ack.bucket()).or_default() += 1;
        if ack.timed_out() {
            tally.timed_out += 1;
            if e.in_final {
                tally.timed_out_but_visible += 1;
            }
        }
        if !lost {
            continue;
        }
        *lost_map.entry(ack.bucket()).or_default() += 1;
        if ack.durable(opts) {
            out.push(explain(history, analysis, key, e, ack, opts));
        } else if !tally.below_threshold_lost.contains(&e.add.invoke.index) {
            tally.below_threshold_lost.push(e.add.invoke.index);
        }
    }
    out
}

fn key_name(k: &KeyAnalysis<'_>) -> String {
    k.key.as_deref().unwrap_or("(none)").to_string()
}

/// A durable-lost anomaly: the write, its acknowledgement, the final read, and the faults from
/// the last one before the acknowledgement to the final read.
fn explain(
    history: &History,
    analysis: &SetAnalysis<'_>,
    key: &KeyAnalysis<'_>,
    e: &Element<'_>,
    ack: Ack,
    opts: &CheckOptions,
) -> Anomaly {
    let ack_op = e.add.last();
    let final_read = key.final_read.map(|f| &key.reads[f]);
    let final_time = final_read.map_or(history.end_time(), |r| r.invoke_time());
    let before = faults::between(history, 0, ack_op.time.saturating_sub(1))
        .last()
        .map_or("no fault".to_string(), |o| faults::describe(o));
    let after = faults::narrative(history, ack_op.time, final_time, FAULTS_QUOTED);
    let mut ops = e.add.indices();
    if let Some(r) = final_read {
        ops.extend(r.op.indices());
    }
    let master = analysis.final_reads.describe_master(key.key.as_deref());
    let text = format!(
        "Element {} of key {} (ops {:?}) was acknowledged by {} at {:.1} ms and {}; yet it is \
         absent from the final read of the post-failover master {master} (ops {:?}). The last \
         fault before the acknowledgement: {before}. Faults from the acknowledgement to the \
         final read: {after}.",
        e.element,
        key_name(key),
        e.add.indices(),
        node_of(&e.add).unwrap_or("an unrecorded node"),
        ack_op.time_ms(),
        ack.words(opts),
        final_read.map(|r| r.op.indices()).unwrap_or_default(),
    );
    let mut a = Anomaly::new(ack.kind(), ops, text).with_details(json!({
        "element": e.element,
        "acked": ack.bucket(),
        "acknowledged_by": node_of(&e.add),
    }));
    if let Some(k) = &key.key {
        a = a.with_key(k.clone());
    }
    a
}

fn stats(t: &Tally, opts: &CheckOptions) -> Map<String, Value> {
    let mut m = Map::new();
    let sum = |b: &BTreeMap<String, u64>| b.values().sum::<u64>();
    m.insert(
        "acknowledged".into(),
        json!(sum(&t.acknowledged).max(sum(&t.aof_acknowledged))),
    );
    m.insert(stat::LOST.into(), json!(sum(&t.lost).max(sum(&t.aof_lost))));
    m.insert("acknowledged_by_acked".into(), json!(t.acknowledged));
    m.insert(stat::LOST_BY_ACKED.into(), json!(t.lost));
    m.insert(
        "acknowledged_by_aof_acked".into(),
        json!(t.aof_acknowledged),
    );
    m.insert(stat::LOST_BY_AOF_ACKED.into(), json!(t.aof_lost));
    m.insert("timed_out".into(), json!(t.timed_out));
    m.insert(
        "timed_out_but_visible".into(),
        json!(t.timed_out_but_visible),
    );
    m.insert(
        "lost_below_threshold".into(),
        json!(t.below_threshold_lost.len()),
    );
    m.insert("wait_threshold".into(), json!(opts.wait_durable));
    m.insert("waitaof_threshold".into(), json!(opts.waitaof_durable));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_reads::test_support::Builder;

    /// A WAIT write of `v` on n1 from `t0` to `t1` ms asking `requested`, getting `acked`.
    fn wait_add(b: Builder, t0: f64, p: u64, v: i64, requested: u64, acked: u64) -> Builder {
        b.invoke(t0, p, "add", json!(v))
            .with(json!({"node": "n1", "wait": {"replicas": requested, "timeout_ms": 100}}))
            .ok(t0 + 1.0, p, "add", json!(v))
            .with(json!({"node": "n1",
                         "wait": {"replicas": requested, "timeout_ms": 100, "acked": acked}}))
    }

    fn final_read(b: Builder, master: &str, elements: Value) -> Builder {
        b.topology(99.0, master)
            .invoke(100.0, 90, "read", Value::Null)
            .with(json!({"node": master, "final": true}))
            .ok(101.0, 90, "read", elements)
            .with(json!({"node": master, "final": true}))
    }

    fn kinds(r: &CheckResult) -> Vec<&str> {
        r.anomalies.iter().map(|a| a.kind.as_str()).collect()
    }

    fn failover(b: Builder) -> Builder {
        b.nemesis(20.0, "invoke", "kill", json!(["n1"]))
            .nemesis(21.0, "info", "kill", json!(["n1"]))
            .nemesis(
                30.0,
                "invoke",
                "promote",
                json!({"node": "n2", "old_master": "n1"}),
            )
            .nemesis(
                31.0,
                "info",
                "promote",
                json!({"node": "n2", "old_master": "n1"}),
            )
    }

    #[test]
    fn lost_write_acked_by_requested_replicas_is_durable_lost() {
        let b = wait_add(Builder::with_key("s"), 0.0, 0, 1, 1, 1);
        let b = wait_add(b, 2.0, 1, 2, 1, 1);
        let r = check(
            &final_read(failover(b), "n2", json!([1])).build(),
            &CheckOptions::default(),
        );
        assert_eq!(kinds(&r), vec!["wait-durable-lost"]);
        let a = &r.anomalies[0];
        assert_eq!(a.ops, vec![2, 3, 9, 10]);
        assert!(
            a.explanation.contains("WAIT 1 reported 1 replica(s)"),
            "{}",
            a.explanation
        );
        assert!(a.explanation.contains("kill n1 at 21.0 ms (op 5)"));
        assert!(
            a.explanation.contains("promote n2 (was n1) at 31.0 ms"),
            "{}",
            a.explanation
        );
        assert_eq!(r.stats["lost_by_acked"], json!({"1": 1}));
        assert_eq!(r.stats["acknowledged_by_acked"], json!({"1": 2}));
    }

    #[test]
    fn lost_write_below_threshold_is_a_statistic_not_an_anomaly() {
        // WAIT asked for 1 replica and got 0 (timed out): losing it breaks no promise.
        let b = wait_add(Builder::with_key("s"), 0.0, 0, 1, 1, 0);
        let r = check(
            &final_read(failover(b), "n2", json!([])).build(),
            &CheckOptions::default(),
        );
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.stats["lost_by_acked"], json!({"0": 1}));
        assert_eq!(r.stat("lost_below_threshold"), Some(1.0));
        assert!(r.notes.iter().any(|n| n.contains("[0]")), "{:?}", r.notes);
    }

    #[test]
    fn expect_threshold_overrides_the_request() {
        // Asked for 2, got 1; with --expect wait-durable=1 losing it is an anomaly.
        let b = wait_add(Builder::with_key("s"), 0.0, 0, 1, 2, 1);
        let h = final_read(failover(b), "n2", json!([])).build();
        assert_eq!(check(&h, &CheckOptions::default()).valid, Validity::Valid);
        let opts = CheckOptions {
            wait_durable: Some(1),
            ..CheckOptions::default()
        };
        assert_eq!(kinds(&check(&h, &opts)), vec!["wait-durable-lost"]);
    }

    #[test]
    fn timed_out_write_that_survived_is_counted_not_flagged() {
        let b = wait_add(Builder::with_key("s"), 0.0, 0, 1, 2, 0);
        let r = check(
            &final_read(b, "n1", json!([1])).build(),
            &CheckOptions::default(),
        );
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.stat("timed_out_but_visible"), Some(1.0));
        assert_eq!(r.stat("timed_out"), Some(1.0));
    }

    #[test]
    fn noreplicas_refusal_visible_is_failed_but_visible() {
        let b = Builder::with_key("s")
            .invoke(0.0, 0, "add", json!(4))
            .with(json!({"node": "n1", "wait": {"replicas": 1, "timeout_ms": 100}}))
            .fail(1.0, 0, "add", json!(4))
            .with(json!({"node": "n1", "error": "NOREPLICAS Not enough good replicas to write."}));
        let r = check(
            &final_read(b, "n1", json!([4])).build(),
            &CheckOptions::default(),
        );
        assert_eq!(kinds(&r), vec!["failed-but-visible"]);
        assert_eq!(r.anomalies[0].ops, vec![0, 1, 3, 4]);
    }

    #[test]
    fn noreplicas_refusal_absent_is_fine() {
        let b = Builder::with_key("s")
            .invoke(0.0, 0, "add", json!(4))
            .with(json!({"wait": {"replicas": 1, "timeout_ms": 100}}))
            .fail(1.0, 0, "add", json!(4))
            .with(json!({"error": "NOREPLICAS Not enough good replicas to write."}));
        let r = check(
            &final_read(b, "n1", json!([])).build(),
            &CheckOptions::default(),
        );
        assert_eq!(r.valid, Validity::Valid);
    }

    #[test]
    fn waitaof_durable_lost_and_below_threshold() {
        let aof = |b: Builder, t0: f64, p: u64, v: i64, replicas_acked: u64| {
            b.invoke(t0, p, "add", json!(v))
                .with(json!({"node": "n1", "waitaof": {"local": 1, "replicas": 1, "timeout_ms": 100}}))
                .ok(t0 + 1.0, p, "add", json!(v))
                .with(json!({"node": "n1", "waitaof": {"local": 1, "replicas": 1, "timeout_ms": 100,
                             "acked_local": 1, "acked_replicas": replicas_acked}}))
        };
        let b = aof(Builder::with_key("s"), 0.0, 0, 1, 1);
        let b = aof(b, 2.0, 1, 2, 0);
        let r = check(
            &final_read(failover(b), "n2", json!([])).build(),
            &CheckOptions::default(),
        );
        assert_eq!(kinds(&r), vec!["waitaof-durable-lost"]);
        assert_eq!(r.anomalies[0].ops[..2], [0, 1]);
        assert_eq!(r.stats["lost_by_aof_acked"], json!({"1/0": 1, "1/1": 1}));
    }

    #[test]
    fn no_final_read_is_unknown_and_plain_set_is_skipped() {
        let b = wait_add(Builder::with_key("s"), 0.0, 0, 1, 1, 1);
        let r = check(&b.build(), &CheckOptions::default());
        assert_eq!(r.valid, Validity::Unknown);
        let plain =
            Builder::with_key("s")
                .invoke(0.0, 0, "add", json!(1))
                .ok(1.0, 0, "add", json!(1));
        assert!(check(&plain.build(), &CheckOptions::default())
            .skipped
            .is_some());
    }
}
