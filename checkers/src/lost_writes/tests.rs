//! Hand-written set histories: each outcome class flagged, and the near-misses that must pass.

use super::*;
use crate::final_reads::test_support::Builder;
use serde_json::json;

/// `add v` by `process` on n1 from `t0` to `t1` ms, completed with `outcome`.
fn add(b: Builder, t0: f64, t1: f64, process: u64, v: i64, outcome: &str) -> Builder {
    b.invoke(t0, process, "add", json!(v))
        .node("n1")
        .client(t1, process, outcome, "add", json!(v))
        .node("n1")
}

/// A read on `node` from `t0` to `t1` returning `elements`.
fn read(b: Builder, t0: f64, t1: f64, process: u64, node: &str, elements: Value) -> Builder {
    b.invoke(t0, process, "read", Value::Null)
        .node(node)
        .ok(t1, process, "read", elements)
        .node(node)
}

/// Final reads at 100 ms: the master `master` (named by topology) returns `on_master`; the
/// replica n3 returns `on_replica`.
fn finals(b: Builder, master: &str, on_master: Value, on_replica: Value) -> Builder {
    b.topology(99.0, master)
        .invoke(100.0, 90, "read", Value::Null)
        .with(json!({"node": master, "final": true}))
        .ok(101.0, 90, "read", on_master)
        .with(json!({"node": master, "final": true}))
        .invoke(102.0, 91, "read", Value::Null)
        .with(json!({"node": "n3", "final": true}))
        .ok(103.0, 91, "read", on_replica)
        .with(json!({"node": "n3", "final": true}))
}

fn run(b: Builder) -> CheckResult {
    check(&b.build(), &CheckOptions::default())
}

fn kinds(r: &CheckResult) -> Vec<&str> {
    r.anomalies.iter().map(|a| a.kind.as_str()).collect()
}

#[test]
fn all_present_is_valid_and_stable() {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok");
    let b = add(b, 2.0, 3.0, 1, 2, "ok");
    let r = run(finals(b, "n2", json!([1, 2]), json!([1, 2])));
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.stat("stable"), Some(2.0));
    assert_eq!(r.stat("acknowledged"), Some(2.0));
    assert_eq!(r.stats["final_master"], json!("n2"));
}

#[test]
fn acknowledged_add_missing_from_final_master_read_is_lost() {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok");
    let b = add(b, 2.0, 3.0, 1, 2, "ok");
    let b = read(b, 4.0, 5.0, 2, "n1", json!([1, 2]));
    let b = b.nemesis(10.0, "invoke", "kill", json!(["n1"])).nemesis(
        11.0,
        "info",
        "kill",
        json!(["n1"]),
    );
    let r = run(finals(b, "n2", json!([1]), json!([1])));
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(kinds(&r), vec!["lost"]);
    let a = &r.anomalies[0];
    // add 2 (ops 2,3), the last read that saw it (4,5), the final master read (9,10), the
    // kill that lost it (6).
    assert_eq!(a.ops, vec![2, 3, 4, 5, 9, 10, 6]);
    assert!(a.explanation.contains("Element 2"), "{}", a.explanation);
    assert!(a.explanation.contains("acknowledged ok by n1 at 3.0 ms"));
    assert!(a.explanation.contains("kill n1 at 11.0 ms (op 7)"));
    assert!(a.explanation.contains("n2 (topology record op 8)"));
    assert_eq!(r.stat("lost"), Some(1.0));
    assert_eq!(r.stats["lost_elements"], json!([2]));
    assert_eq!(r.stats["keys"], json!(1));
    assert!(a.explanation.contains("of key s"), "{}", a.explanation);
    assert_eq!(r.stats["lost_by_key"], json!([{"key": "s", "lost": 1}]));
}

#[test]
fn lost_is_decided_by_the_master_not_the_replica() {
    // The replica n3 still has element 2 but the post-failover master n2 does not: lost (and
    // the replica diverges). The reverse (master has it, replica not) is only divergence.
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 2, "ok");
    let r = run(finals(b, "n2", json!([]), json!([2])));
    assert_eq!(kinds(&r), vec!["lost", "divergent"]);

    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 2, "ok");
    let r = run(finals(b, "n2", json!([2]), json!([])));
    assert_eq!(kinds(&r), vec!["divergent"]);
    assert_eq!(r.stat("lost"), Some(0.0));
    let d = &r.anomalies[0];
    assert!(d
        .explanation
        .contains("missing on the replica [2] (1 in all)"));
    assert_eq!(d.details["replica"], json!("n3"));
}

#[test]
fn info_add_absent_is_not_lost() {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok");
    let b = add(b, 2.0, 3.0, 1, 2, "info");
    let r = run(finals(b, "n2", json!([1]), json!([1])));
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.stat("never_read"), Some(1.0));
    assert_eq!(r.stat("recovered"), Some(0.0));
}

#[test]
fn info_add_present_is_recovered() {
    let b = add(Builder::with_key("s"), 2.0, 3.0, 1, 2, "info");
    let r = run(finals(b, "n2", json!([2]), json!([2])));
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.stat("recovered"), Some(1.0));
    assert_eq!(r.stat("stable"), Some(1.0));
}

#[test]
fn info_add_seen_then_gone_is_lost() {
    // A read proved the indeterminate add happened; the final read no longer has it.
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 5, "info");
    let b = read(b, 2.0, 3.0, 1, "n1", json!([5]));
    let r = run(finals(b, "n2", json!([]), json!([])));
    assert_eq!(kinds(&r), vec!["lost"]);
    assert!(r.anomalies[0].explanation.contains("indeterminate (info)"));
}

#[test]
fn add_concurrent_with_final_read_is_not_lost() {
    // The add completes after the final read began: the read may have linearized first.
    let b = Builder::with_key("s")
        .invoke(99.5, 0, "add", json!(7))
        .topology(99.8, "n2")
        .invoke(100.0, 90, "read", Value::Null)
        .with(json!({"node": "n2", "final": true}))
        .ok(100.5, 0, "add", json!(7))
        .ok(101.0, 90, "read", json!([]))
        .with(json!({"node": "n2", "final": true}));
    let r = run(b);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.stat("never_read"), Some(1.0));
}

#[test]
fn failed_add_visible_in_any_read_is_flagged() {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 3, "fail").with(json!({"error": "ERR"}));
    let b = read(b, 2.0, 3.0, 1, "n3", json!([3]));
    let r = run(finals(b, "n2", json!([]), json!([])));
    assert_eq!(kinds(&r), vec!["failed-but-visible"]);
    assert_eq!(r.anomalies[0].ops, vec![0, 1, 2, 3]);
    assert_eq!(r.stat("failed_but_visible"), Some(1.0));
}

#[test]
fn failed_add_never_seen_is_fine() {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 3, "fail");
    let r = run(finals(b, "n2", json!([]), json!([])));
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.stat("lost"), Some(0.0));
}

#[test]
fn element_never_attempted_is_unexpected() {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok");
    let r = run(finals(b, "n2", json!([1, 99]), json!([1, 99])));
    assert_eq!(kinds(&r), vec!["unexpected"]);
    assert!(r.anomalies[0].explanation.contains("element 99"));
}

#[test]
fn replica_read_missing_an_element_is_staleness_not_loss() {
    // A non-final replica read misses element 1 after it was acknowledged: stale, and the
    // visibility latency measures it (Jepsen: known 1 ms -> last miss invoked at 4 ms = 3 ms).
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok");
    let b = read(b, 4.0, 5.0, 1, "n3", json!([]));
    let b = read(b, 6.0, 7.0, 1, "n3", json!([1]));
    let r = run(finals(b, "n2", json!([1]), json!([1])));
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.stat("stale"), Some(1.0));
    assert_eq!(r.stat("visibility_ms_max"), Some(3.0));
}

#[test]
fn read_concurrent_with_add_is_not_a_miss() {
    // The read overlaps the add, so missing it costs no visibility latency.
    let b = Builder::with_key("s")
        .invoke(0.0, 0, "add", json!(1))
        .invoke(0.5, 1, "read", Value::Null)
        .ok(1.0, 0, "add", json!(1))
        .ok(1.5, 1, "read", json!([]));
    let r = run(finals(b, "n2", json!([1]), json!([1])));
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.stat("stale"), Some(0.0));
    assert_eq!(r.stat("visibility_ms_p50"), Some(0.0));
}

#[test]
fn no_final_read_is_unknown() {
    // A redline history (it has topology records) that ends without final reads was
    // interrupted: its last read may be a lagging replica's, so nothing is decided.
    let b = add(
        Builder::with_key("s").topology(0.0, "n1"),
        0.0,
        1.0,
        0,
        1,
        "ok",
    );
    let r = run(read(b, 2.0, 3.0, 1, "n2", json!([])));
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.notes.iter().any(|n| n.contains("no final read")), "{r:?}");
}

#[test]
fn a_jepsen_set_history_uses_its_last_read_as_the_final_read() {
    // Jepsen's set histories mark no read final and carry no topology: the last read decides.
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok");
    let b = add(b, 0.5, 1.5, 2, 2, "ok");
    let r = run(read(b, 2.0, 3.0, 1, "n1", json!([2])));
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(kinds(&r), ["lost"]);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("no read is marked final")),
        "{r:?}"
    );
}

#[test]
fn failed_final_master_read_is_unknown_with_its_ops() {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok")
        .topology(99.0, "n2")
        .invoke(100.0, 90, "read", Value::Null)
        .with(json!({"node": "n2", "final": true}))
        .info(101.0, 90, "read", Value::Null)
        .with(json!({"node": "n2", "final": true}));
    let r = run(b);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.notes.iter().any(|n| n.contains("ops [3]")), "{r:?}");
}

#[test]
fn history_without_adds_is_skipped() {
    let r = run(Builder::new().nemesis(1.0, "info", "kill", json!(["n1"])));
    assert!(r.skipped.is_some());
}

#[test]
fn keys_are_judged_separately() {
    // Element 1 on key a is present in a's final read; key b's final read lacks its element 1.
    let b = Builder::new()
        .invoke(0.0, 0, "add", json!(1))
        .with(json!({"key": "a"}))
        .ok(1.0, 0, "add", json!(1))
        .with(json!({"key": "a"}))
        .invoke(2.0, 1, "add", json!(1))
        .with(json!({"key": "b"}))
        .ok(3.0, 1, "add", json!(1))
        .with(json!({"key": "b"}))
        .topology(9.0, "n2")
        .invoke(10.0, 90, "read", Value::Null)
        .with(json!({"key": "a", "node": "n2", "final": true}))
        .ok(11.0, 90, "read", json!([1]))
        .with(json!({"key": "a", "node": "n2", "final": true}))
        .invoke(12.0, 91, "read", Value::Null)
        .with(json!({"key": "b", "node": "n2", "final": true}))
        .ok(13.0, 91, "read", json!([]))
        .with(json!({"key": "b", "node": "n2", "final": true}));
    let r = run(b);
    assert_eq!(kinds(&r), vec!["lost"]);
    assert_eq!(r.anomalies[0].key.as_deref(), Some("b"));
}

#[test]
fn elements_that_are_not_integers_are_judged_like_integers() {
    // Jepsen's set-full histories add strings and tuples: an acknowledged add of "x" that
    // the final read lacks is lost, as an integer would be.
    let b = Builder::with_key("s")
        .invoke(0.0, 0, "add", json!("x"))
        .node("n1")
        .client(1.0, 0, "ok", "add", json!("x"))
        .node("n1")
        .invoke(2.0, 0, "add", json!([0, 1]))
        .node("n1")
        .client(3.0, 0, "ok", "add", json!([0, 1]))
        .node("n1");
    let r = run(finals(b, "n1", json!([[0, 1]]), json!([[0, 1]])));
    assert_eq!(kinds(&r), vec!["lost"]);
    assert!(
        r.anomalies[0].explanation.contains("Element \"x\""),
        "{}",
        r.anomalies[0].explanation
    );
    assert_eq!(r.stats["lost_elements"], json!(["x"]));
}

#[test]
fn an_add_without_element_is_unknown_and_never_makes_others_unexpected() {
    // The checker cannot tell what a null add added: the 7 the final read holds may be it, so
    // it is not called unexpected, and the clean result is unknown, not valid.
    let b = Builder::with_key("s")
        .invoke(0.0, 0, "add", Value::Null)
        .node("n1")
        .client(1.0, 0, "ok", "add", Value::Null)
        .node("n1");
    let r = run(finals(b, "n1", json!([7]), json!([7])));
    assert_eq!(r.valid, Validity::Unknown, "{:?}", r.anomalies);
    assert!(r.skipped.is_none());
    assert!(
        r.notes.iter().any(|n| n.contains("name no element")),
        "{:?}",
        r.notes
    );
}

/// Element 2, acknowledged by n1 at 3 ms, lost to the kill of n1 at 10 ms.
fn lost_to_a_kill() -> History {
    let b = add(Builder::with_key("s"), 0.0, 1.0, 0, 1, "ok");
    let b = add(b, 2.0, 3.0, 1, 2, "ok");
    let b = b.nemesis(10.0, "invoke", "kill", json!(["n1"])).nemesis(
        11.0,
        "info",
        "kill",
        json!(["n1"]),
    );
    finals(b, "n2", json!([1]), json!([1])).build()
}

#[test]
fn a_lost_write_names_the_fault_that_lost_it_and_its_age() {
    let r = check(&lost_to_a_kill(), &CheckOptions::default());
    let a = &r.anomalies[0];
    assert!(
        a.explanation.contains(
            "The fault that lost it (the first of its node's under way when the add was sent or \
             begun since): kill n1 at 10.0 ms (op 4), 7.0 ms after it was acknowledged."
        ),
        "{}",
        a.explanation
    );
    assert_eq!(a.details["fault_op"], json!(4));
    assert_eq!(a.details["age_ms"], json!(7.0));
    assert_eq!(r.stat("lost_age_ms_max"), Some(7.0));
    assert_eq!(r.stat("lost_without_fault"), Some(0.0));
    assert_eq!(
        r.stats["lost_oldest"]["fault"],
        json!("kill n1 at 10.0 ms (op 4)")
    );
}

#[test]
fn the_nodes_persistence_at_the_kill_joins_the_explanation_and_changes_no_verdict() {
    use crate::telemetry::{sample_record, Telemetry};
    let history = lost_to_a_kill();
    let sample = sample_record(
        9_500_000,
        "n1",
        json!({"role": "master", "persistence": {"aof_enabled": 1,
            "aof_pending_bio_fsync": 1, "aof_buffer_length": 2310}}),
    );
    let opts = CheckOptions {
        telemetry: Telemetry::from_records(&[sample]),
        ..CheckOptions::default()
    };
    let with = check(&history, &opts);
    let without = check(&history, &CheckOptions::default());
    assert!(
        with.anomalies[0].explanation.ends_with(
            " n1 had a background fsync pending and 2 KB of AOF buffer unwritten at the kill \
             (aof_pending_bio_fsync 1, aof_buffer_length 2310 at 9.5 ms, its last INFO \
             persistence sample before it)."
        ),
        "{}",
        with.anomalies[0].explanation
    );
    assert!(!without.anomalies[0].explanation.contains("fsync"));
    assert_eq!(with.valid, without.valid);
    assert_eq!(with.stats, without.stats);
    assert_eq!(with.anomalies[0].ops, without.anomalies[0].ops);
}
/// Past the first [`FULLY_EXPLAINED`] lost elements, each is counted in `omitted` and kept in
/// brief: key, element, witness ops (add, final read, fault) and the fault, no paragraph.
#[test]
fn only_the_first_lost_elements_are_anomalies_the_rest_briefs() {
    let mut b = Builder::with_key("s");
    let n = FULLY_EXPLAINED as i64 + 5;
    for v in 0..n {
        b = add(b, v as f64 * 0.1, v as f64 * 0.1 + 0.05, 0, v, "ok");
    }
    let b = b.nemesis(20.0, "info", "kill", json!(["n1"]));
    let r = run(finals(b, "n2", json!([]), json!([])));
    assert_eq!(r.anomalies.len(), FULLY_EXPLAINED);
    assert!(r
        .anomalies
        .iter()
        .all(|a| a.explanation.contains("kill n1")));
    assert_eq!(r.omitted.get(kind::LOST), Some(&5));
    assert_eq!(r.anomaly_count(), n as u64);
    assert_eq!(r.stats[stat::LOST], json!(n));
    assert_eq!(r.briefs.len(), 5);
    let last = &r.briefs[4];
    assert_eq!(last.element, json!(n - 1));
    assert_eq!(last.key.as_deref(), Some("s"));
    let full = &r.anomalies[0];
    assert_eq!(last.fault_op, full.details["fault_op"].as_u64());
    assert_eq!(last.ops.last(), full.ops.last());
    assert_eq!(
        serde_json::to_value(last).unwrap(),
        json!({"kind": "lost", "ops": last.ops, "key": "s", "element": n - 1,
               "fault_op": last.fault_op})
    );
    // The lone `info kill` (DESIGN's example of a nemesis record) is the fault charged.
    assert!(last.fault_op.is_some());
}

/// A master restarted empty loses every element: 10,000 lost over 10 keys are all counted
/// (stats, `omitted`, verdict) while only [`FULLY_EXPLAINED`] are anomalies.
#[test]
fn ten_thousand_lost_elements_are_counted_exactly_and_kept_in_brief() {
    let on = |key: usize, node: &str| json!({"key": format!("k{key}"), "node": node});
    let mut b = Builder::new();
    for key in 0..10 {
        for v in 0..1000 {
            let t = (key * 1000 + v) as f64 * 0.001;
            b = b
                .invoke(t, 0, "add", json!(v))
                .with(on(key, "n1"))
                .ok(t + 0.0005, 0, "add", json!(v))
                .with(on(key, "n1"));
        }
    }
    b = b
        .nemesis(20.0, "info", "kill", json!(["n1"]))
        .topology(99.0, "n2");
    for key in 0..10 {
        let mut fin = on(key, "n2");
        fin["final"] = json!(true);
        b = b
            .invoke(100.0, 90, "read", Value::Null)
            .with(fin.clone())
            .ok(101.0, 90, "read", json!([]))
            .with(fin);
    }
    let r = run(b);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.stats[stat::LOST], json!(10_000));
    assert_eq!(r.anomalies.len(), FULLY_EXPLAINED);
    assert_eq!(r.briefs.len(), 10_000 - FULLY_EXPLAINED);
    assert_eq!(r.counts_by_kind()[kind::LOST], 10_000);
    let keys: std::collections::BTreeSet<_> = r.briefs.iter().map(|b| b.key.clone()).collect();
    assert_eq!(keys.len(), 10);
}

/// A loss no nemesis fault explains, while a failover Sentinel began (on its own, here) was
/// under way: the explanation cites that failover's events, and only the open one.
#[test]
fn a_loss_during_a_sentinel_failover_names_it() {
    let b = Builder::with_key("s")
        .sentinel(1.0, "+try-failover")
        .sentinel(2.0, "+failover-end")
        .sentinel(5.0, "+try-failover")
        .sentinel(6.0, "+selected-slave");
    let b = add(b, 7.0, 8.0, 0, 1, "ok");
    let b = b.sentinel(9.0, "+promoted-slave");
    let r = run(finals(b, "n2", json!([]), json!([])));
    assert_eq!(kinds(&r), vec!["lost"]);
    let a = &r.anomalies[0];
    assert!(
        a.explanation.contains("no fault can be charged"),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation.contains(
            "A Sentinel failover was under way when it was acknowledged (begun before, not \
             ended): sentinel s1 +try-failover at 5.0 ms (op 2); sentinel s1 +selected-slave at \
             6.0 ms (op 3); sentinel s1 +promoted-slave at 9.0 ms (op 6)."
        ),
        "{}",
        a.explanation
    );
    assert!(!a.explanation.contains("at 1.0 ms"), "{}", a.explanation);
    for cited in [2, 3, 6] {
        assert!(a.ops.contains(&cited), "{:?}", a.ops);
    }
}
