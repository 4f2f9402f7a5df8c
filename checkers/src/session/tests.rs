//! Hand-written histories for the session checker: violations that must be flagged and
//! near-misses that must pass. Times are in ms; process p reads on node n{p % 3 + 1}.

use super::*;
use crate::register_versions::test_history::Builder;
use crate::result::Validity;
use serde_json::json;

fn run(b: Builder) -> CheckResult {
    check(&b.build(), &CheckOptions::default())
}

fn kinds(r: &CheckResult) -> Vec<&str> {
    r.anomalies.iter().map(|a| a.kind.as_str()).collect()
}

#[test]
fn reading_an_older_version_than_your_acknowledged_write() {
    // Process 1 writes 1 [0,10]; process 0 writes 2 [20,30]; process 0 then reads 1.
    let r = run(Builder::new()
        .write(1, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(0, 40, 45, "k", json!(1)));
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(kinds(&r), ["read-your-writes"]);
    let a = &r.anomalies[0];
    assert!(
        a.explanation.contains("Process 0 wrote 2"),
        "{}",
        a.explanation
    );
    assert_eq!(a.ops.len(), 6, "own write, read, the older write");
    assert_eq!(r.stats["read_your_writes"], json!(1));
    assert_eq!(r.stats["processes"], json!(2));
}

#[test]
fn nil_after_your_acknowledged_write() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(0, 20, 25, "k", json!(null)));
    assert_eq!(kinds(&r), ["read-your-writes"]);
    assert!(r.anomalies[0].explanation.contains("nil"));
}

#[test]
fn reading_a_version_concurrent_with_your_write_is_not_a_violation() {
    // Process 1's write of 1 [5,25] overlaps process 0's write of 2 [20,30]: 1 may be last.
    let r = run(Builder::new()
        .write(1, 5, 25, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(0, 40, 45, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn reading_a_newer_version_than_your_write_is_fine() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(1, 20, 30, "k", 2)
        .read(0, 40, 45, "k", json!(2))
        .read(0, 50, 55, "k", json!(2)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn unacknowledged_own_write_does_not_count() {
    // Process 0's write of 2 ended info (the process retires); process 3 is not the writer.
    let r = run(Builder::new()
        .write(1, 0, 10, "k", 1)
        .write_info(0, 20, 30, "k", 2)
        .read(3, 40, 45, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn own_writes_of_other_keys_do_not_count() {
    let r = run(Builder::new()
        .write(1, 0, 10, "k", 1)
        .write(0, 20, 30, "other", 2)
        .read(0, 40, 45, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn acknowledged_cas_counts_as_your_write() {
    let r = run(Builder::new()
        .write(1, 0, 10, "k", 1)
        .cas(0, 20, 30, "k", 1, 2)
        .read(0, 40, 45, "k", json!(1)));
    assert_eq!(kinds(&r), ["read-your-writes"]);
}

#[test]
fn going_back_to_an_older_version() {
    // Writes 1 ≺ 2; process 5 reads 2 then 1.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(5, 40, 45, "k", json!(2))
        .read(5, 50, 55, "k", json!(1)));
    assert_eq!(kinds(&r), ["monotonic-reads"]);
    let a = &r.anomalies[0];
    assert_eq!(a.details["earlier_value"], json!(2));
    assert_eq!(a.details["value"], json!(1));
    assert!(
        a.explanation.contains("went back in time"),
        "{}",
        a.explanation
    );
    // earlier read (2) + write of 2 (2) + later read (2) + write of 1 (2)
    assert_eq!(a.ops.len(), 8);
    assert_eq!(r.stats["monotonic_reads"], json!(1));
}

#[test]
fn nil_after_a_non_nil_read() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(5, 5, 8, "k", json!(1))
        .read(5, 9, 12, "k", json!(null)));
    assert_eq!(kinds(&r), ["monotonic-reads"]);
}

#[test]
fn nil_before_any_read_and_before_the_write_completes_is_fine() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(5, 2, 4, "k", json!(null))
        .read(5, 5, 8, "k", json!(null))
        .read(5, 20, 25, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn going_back_between_overlapping_writes_is_not_a_violation() {
    // 1 [0,20] and 2 [10,30] overlap: reading 2 then 1 may be the true order of effects
    // (value order says nothing: foreign histories need not write increasing values).
    let r = run(Builder::new()
        .write(0, 0, 20, "k", 1)
        .write(1, 10, 30, "k", 2)
        .read(5, 40, 45, "k", json!(2))
        .read(5, 50, 55, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn value_order_is_not_version_order() {
    // Writes 5 ≺ 3 in real time: reading 3 then 5 goes back, reading 5 then 3 does not.
    let b = || {
        Builder::new()
            .write(0, 0, 10, "k", 5)
            .write(0, 20, 30, "k", 3)
    };
    let back = run(b()
        .read(5, 40, 45, "k", json!(3))
        .read(5, 50, 55, "k", json!(5)));
    assert_eq!(kinds(&back), ["monotonic-reads"]);
    let forward = run(b()
        .read(5, 40, 45, "k", json!(5))
        .read(5, 50, 55, "k", json!(3)));
    assert_eq!(forward.valid, Validity::Valid, "{:?}", forward.anomalies);
}

#[test]
fn an_info_writes_value_once_read_can_be_gone_back_from() {
    // 2 is info but was read, so it happened; it was invoked at 20, after 1 completed.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write_info(1, 20, 30, "k", 2)
        .read(5, 40, 45, "k", json!(2))
        .read(5, 50, 55, "k", json!(1)));
    assert_eq!(kinds(&r), ["monotonic-reads"]);
}

#[test]
fn other_processes_reads_do_not_count() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(5, 40, 45, "k", json!(2))
        .read(6, 50, 55, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
    assert_eq!(r.stats["reads"], json!(2));
}

#[test]
fn final_reads_are_excluded() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(5, 40, 45, "k", json!(2))
        .final_read(5, 100, 105, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
    assert_eq!(r.stats["reads"], json!(1));
}

#[test]
fn one_read_can_break_both_guarantees() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(5, 20, 30, "k", 2)
        .read(5, 40, 45, "k", json!(2))
        .read(5, 50, 55, "k", json!(1)));
    assert_eq!(kinds(&r), ["read-your-writes", "monotonic-reads"]);
}

#[test]
fn history_without_reads_is_skipped() {
    let r = run(Builder::new().write(0, 0, 10, "k", 1));
    assert!(r.skipped.is_some());
}
