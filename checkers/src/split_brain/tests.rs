//! Hand-written histories the split-brain checker must flag, and ones it must pass.

use super::*;
use crate::final_reads::test_support::Builder;
use crate::result::Validity;

/// An acknowledged write by `p` served by `node` from `t0` to `t1` ms.
fn w(b: Builder, t0: f64, t1: f64, p: u64, node: &str) -> Builder {
    b.invoke(t0, p, "write", json!(p))
        .node(node)
        .ok(t1, p, "write", json!(p))
        .node(node)
}

/// n1 declared master at 0 ms, and its acknowledged write (op 0, 0.1-1.0 ms) on key `key`.
fn n1_master_with_one_write(key: &str) -> Builder {
    w(
        Builder::with_key(key).topology(0.0, "n1"),
        0.1,
        1.0,
        0,
        "n1",
    )
}

fn run(b: Builder) -> CheckResult {
    check(&b.build(), &CheckOptions::default())
}

#[test]
fn clean_handover_is_not_split_brain() {
    let b = w(Builder::with_key("r"), 0.0, 1.0, 0, "n1");
    let b = w(b, 2.0, 3.0, 1, "n1");
    let b = b.nemesis(
        4.0,
        "invoke",
        "promote",
        json!({"node": "n2", "old_master": "n1"}),
    );
    let b = w(b, 5.0, 6.0, 2, "n2");
    let b = w(b, 7.0, 8.0, 3, "n2");
    let r = run(b);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.stat("intervals"), Some(0.0));
}

#[test]
fn late_ack_concurrent_with_new_masters_first_write_is_not_split_brain() {
    // n1's write was invoked before n2's first write completed: concurrent, not interleaved.
    let b = w(Builder::with_key("r"), 0.0, 1.0, 0, "n1");
    let b = b
        .invoke(2.0, 1, "write", json!(1))
        .node("n2")
        .invoke(2.5, 2, "write", json!(2))
        .node("n1")
        .ok(3.0, 1, "write", json!(1))
        .node("n2")
        .ok(4.0, 2, "write", json!(2))
        .node("n1");
    let b = w(b, 5.0, 6.0, 3, "n2");
    assert_eq!(run(b).valid, Validity::Valid);
}

#[test]
fn interleaved_acks_are_split_brain() {
    let b = w(Builder::with_key("r"), 0.0, 1.0, 0, "n1");
    let b = b.topology(1.5, "n2");
    let b = w(b, 2.0, 3.0, 1, "n2");
    let b = w(b, 4.0, 5.0, 2, "n1");
    let b = w(b, 6.0, 7.0, 3, "n2");
    let r = run(b);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.stat("intervals"), Some(1.0));
    let a = &r.anomalies[0];
    assert_eq!(a.kind, "split-brain");
    // The chain n1 (ops 0,1) < n2 (3,4) < n1 (5,6). The interval runs from n2's first ack
    // (3 ms) to n1's last (5 ms); n2's write completing at 7 ms is outside it.
    assert_eq!(a.ops, vec![0, 1, 3, 4, 5, 6]);
    assert!(
        a.explanation.contains("between 3.0 ms and 5.0 ms"),
        "{}",
        a.explanation
    );
    assert!(a
        .explanation
        .contains("n1 acknowledged 1 write(s) and n2 acknowledged 1"));
    assert!(a
        .explanation
        .contains("topology: master is n2 at 1.5 ms (op 2)"));
    assert_eq!(r.stat("overlap_ms_total"), Some(2.0));
}

#[test]
fn failback_declared_in_the_history_is_not_split_brain() {
    let b = n1_master_with_one_write("r");
    let b = b.topology(1.5, "n2");
    let b = w(b, 2.0, 3.0, 1, "n2");
    let b = b.nemesis(
        3.5,
        "invoke",
        "promote",
        json!({"node": "n1", "old_master": "n2"}),
    );
    let b = w(b, 4.0, 5.0, 2, "n1");
    let r = run(b);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.stat("reigns"), Some(3.0));
}

#[test]
fn deposed_master_acking_alone_is_split_brain() {
    // Sentinel declared n2, which acknowledges nothing; n1 keeps acknowledging writes
    // invoked after that, as the old master does in the classic partition.
    let b = n1_master_with_one_write("s");
    let b = b.topology(1.5, "n2");
    let b = w(b, 2.0, 3.0, 1, "n1");
    let b = w(b, 3.5, 4.0, 2, "n1");
    let r = run(b);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.anomalies.len(), 1);
    assert!(
        r.anomalies[0]
            .explanation
            .contains("n2 was declared master"),
        "{}",
        r.anomalies[0].explanation
    );
}

#[test]
fn a_new_master_acking_just_before_its_declaration_is_not_deposed() {
    // A client found n3 through Sentinel a moment before the harness recorded the switch.
    let b = n1_master_with_one_write("s");
    let b = w(b, 2.0, 2.2, 1, "n3");
    let b = b.topology(2.5, "n3");
    let b = w(b, 3.0, 3.2, 2, "n3");
    let r = run(b);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn old_master_acking_after_promotion_of_another_is_split_brain() {
    // n2 is declared master, yet n1 (never re-declared) keeps acknowledging afterwards.
    let b = n1_master_with_one_write("r");
    let b = b.nemesis(
        1.2,
        "invoke",
        "promote",
        json!({"node": "n2", "old_master": "n1"}),
    );
    let b = w(b, 2.0, 3.0, 1, "n2");
    let b = w(b, 4.0, 5.0, 2, "n1");
    let r = run(b);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(r.anomalies[0].explanation.contains("promote"));
}

#[test]
fn reads_and_failed_writes_do_not_count() {
    let b = w(Builder::with_key("r"), 0.0, 1.0, 0, "n1");
    let b = b
        .invoke(2.0, 1, "write", json!(1))
        .node("n2")
        .fail(3.0, 1, "write", json!(1))
        .node("n2")
        .invoke(3.5, 2, "txn", json!([["r", "k", null]]))
        .node("n2")
        .ok(3.8, 2, "txn", json!([["r", "k", [1]]]))
        .node("n2");
    let b = w(b, 4.0, 5.0, 3, "n1");
    assert_eq!(run(b).valid, Validity::Valid);
}

#[test]
fn txn_appends_count_as_writes() {
    let t = |b: Builder, t0: f64, p: u64, node: &str| {
        b.invoke(t0, p, "txn", json!([["append", "k", p]]))
            .node(node)
            .ok(t0 + 1.0, p, "txn", json!([["append", "k", p]]))
            .node(node)
    };
    let b = t(Builder::new(), 0.0, 0, "n1");
    let b = t(b, 2.0, 1, "n2");
    let b = t(b, 4.0, 2, "n1");
    assert_eq!(run(b).valid, Validity::Invalid);
}

/// A Sentinel failback (n1, then n2, then n1 again) recorded by the harness only when
/// `+switch-master` arrives: n1's first write of its second reign was invoked just before the
/// record (a client following Sentinel got there first). It was invoked after the failover
/// began (`+try-failover`), so it may be the new reign's: no split-brain. Seen on Valkey 9.1
/// with `failover:sentinel-coordinated`, where the harness had flagged it.
#[test]
fn sentinel_failback_noticed_after_the_new_masters_first_ack_is_not_split_brain() {
    let b = n1_master_with_one_write("s");
    let b = b
        .sentinel(1.2, "+try-failover")
        .sentinel(1.4, "+switch-master");
    let b = w(b.topology(1.5, "n2"), 2.0, 3.0, 1, "n2");
    let b = b.sentinel(3.5, "+try-failover");
    // n1 promoted at some instant after 3.5 ms; its first ack comes before the record at 4.5.
    let b = w(b, 4.2, 4.4, 2, "n1");
    let b = b.sentinel(4.45, "+switch-master").topology(4.5, "n1");
    let b = w(b, 5.0, 6.0, 3, "n1");
    let r = run(b);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
    assert!(
        r.notes.iter().any(|n| n.contains("1 acknowledged writes")),
        "{:?}",
        r.notes
    );
}

/// The classic split-brain before a Sentinel failback: n1 was deposed (n2 declared at 1.5
/// ms) yet acknowledged writes while n2 did; Sentinel moved the master back to n1 much later.
/// The failback's uncertainty starts at its own `+try-failover`, so the writes n1 acknowledged
/// while deposed are still witnesses.
#[test]
fn split_brain_before_a_sentinel_failback_is_still_flagged() {
    let b = n1_master_with_one_write("s");
    let b = b.sentinel(1.2, "+try-failover").topology(1.5, "n2");
    let b = w(b, 2.0, 2.5, 1, "n2");
    let b = w(b, 3.0, 3.5, 2, "n1");
    let b = w(b, 4.0, 4.5, 3, "n2");
    let b = b.sentinel(8.0, "+try-failover").topology(9.0, "n1");
    let b = w(b, 9.5, 10.0, 4, "n1");
    let r = run(b);
    assert_eq!(r.valid, Validity::Invalid, "{r:?}");
    let a = &r.anomalies[0];
    // Records 7 and 8: n1's write invoked at 3.0 ms, while n2 reigned.
    assert!(
        a.ops.contains(&7) && a.ops.contains(&8),
        "n1's deposed write: {a:?}"
    );
}

/// A Sentinel's attempt that aborted before promoting anything does not widen the window of
/// the later failback: n1's write while deposed (3.0 ms) stays a witness. (The failback's
/// uncertainty starts at the retry's `+try-failover`, 8.0 ms.)
#[test]
fn an_aborted_failover_attempt_hides_no_deposed_write() {
    let b = n1_master_with_one_write("s");
    let b = b.sentinel(1.2, "+try-failover").topology(1.5, "n2");
    let b = w(b, 2.0, 2.5, 1, "n2");
    let b = b
        .sentinel(2.8, "+try-failover")
        .sentinel(2.9, "-failover-abort-no-good-slave");
    let b = w(b, 3.0, 3.5, 2, "n1");
    let b = w(b, 4.0, 4.5, 3, "n2");
    let b = b.sentinel(8.0, "+try-failover").topology(9.0, "n1");
    let b = w(b, 9.5, 10.0, 4, "n1");
    let r = run(b);
    assert_eq!(r.valid, Validity::Invalid, "{r:?}");
}

/// With `+try-failover` unrecorded, the leader's later steps (here `+elected-leader`) still
/// bound the failback, so n1's writes while deposed stay witnesses.
#[test]
fn a_failback_bounded_by_the_leaders_later_steps_hides_no_deposed_write() {
    let b = n1_master_with_one_write("s");
    let b = b.sentinel(1.2, "+try-failover").topology(1.5, "n2");
    let b = w(b, 2.0, 2.5, 1, "n2");
    let b = w(b, 3.0, 3.5, 2, "n1");
    let b = w(b, 4.0, 4.5, 3, "n2");
    let b = b
        .sentinel(6.0, "+convert-to-slave")
        .sentinel(8.0, "+elected-leader")
        .sentinel(8.9, "+switch-master")
        .topology(9.0, "n1");
    let b = w(b, 9.5, 10.0, 4, "n1");
    let r = run(b);
    assert_eq!(r.valid, Validity::Invalid, "{r:?}");
}
