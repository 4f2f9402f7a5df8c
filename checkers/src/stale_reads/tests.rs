//! Hand-written histories for the stale-reads checker: anomalies that must be flagged and
//! near-misses that must pass. Times are in ms.

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
fn read_of_superseded_value_is_stale() {
    // 1 written [0,10]; 2 written [20,30]; a read at 50 returns 1: 20 ms stale, 1 behind.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(1, 50, 55, "k", json!(1)));
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(kinds(&r), ["stale-read"]);
    let a = &r.anomalies[0];
    assert_eq!(a.details["staleness_ms"], json!(20.0));
    assert_eq!(a.details["versions_behind"], json!(1));
    assert_eq!(a.key.as_deref(), Some("k"));
    // Witness: the read (invoke, ok), the write of 1, the superseding write of 2.
    assert_eq!(a.ops.len(), 6);
    assert!(
        a.explanation.contains("20.000 ms stale"),
        "{}",
        a.explanation
    );
    assert_eq!(r.stats["stale"], json!(1));
    assert_eq!(r.stats["staleness_ms_max"], json!(20.0));
}

#[test]
fn nil_after_a_completed_write_is_stale() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(1, 15, 20, "k", json!(null)));
    assert_eq!(kinds(&r), ["stale-read"]);
    assert_eq!(r.anomalies[0].details["staleness_ms"], json!(5.0));
    assert_eq!(r.anomalies[0].details["written_by"], Value::Null);
    assert!(r.anomalies[0].explanation.contains("nil"));
}

#[test]
fn versions_behind_counts_every_newer_completed_write() {
    // 1 ≺ 2 ≺ 3 ≺ 4, all complete before the read at 100 returns 1: 3 versions behind;
    // staleness from the earliest superseding write (2, done at 30).
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .write(0, 40, 50, "k", 3)
        .write(0, 60, 70, "k", 4)
        .read(1, 100, 101, "k", json!(1)));
    let a = &r.anomalies[0];
    assert_eq!(a.details["versions_behind"], json!(3));
    assert_eq!(a.details["staleness_ms"], json!(70.0));
    assert_eq!(r.stats["versions_behind_max"], json!(3));
}

#[test]
fn read_concurrent_with_newer_write_is_not_stale() {
    // The write of 2 completes at 30, after the read is invoked at 25.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(1, 25, 35, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
    assert_eq!(r.stats["stale"], json!(0));
}

#[test]
fn newer_write_completing_exactly_at_read_invocation_is_concurrent() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(1, 30, 35, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn read_of_write_overlapping_the_newer_write_is_not_stale() {
    // 1 [0,20] and 2 [10,30] overlap: either may be last, so reading 1 at 50 is fine.
    let r = run(Builder::new()
        .write(0, 0, 20, "k", 1)
        .write(1, 10, 30, "k", 2)
        .read(2, 50, 55, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn write_starting_at_the_instant_the_other_completes_is_concurrent() {
    let r = run(Builder::new()
        .write(0, 0, 20, "k", 1)
        .write(1, 20, 30, "k", 2)
        .read(2, 50, 55, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn info_write_value_may_appear_and_never_makes_reads_stale() {
    // 2's outcome is unknown: reading it is fine, and reading 1 after it is fine too.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write_info(1, 20, 30, "k", 2)
        .read(2, 40, 45, "k", json!(2))
        .read(2, 50, 55, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
    assert_eq!(r.stats["reads"], json!(2));
}

#[test]
fn info_write_value_read_after_a_later_write_completed_is_not_stale() {
    // 2 is info; 3 is invoked after 2 was invoked but that does not order them (2 may take
    // effect at any time), so reading 2 is not stale.
    let r = run(Builder::new()
        .write_info(1, 0, 10, "k", 2)
        .write(0, 20, 30, "k", 3)
        .read(2, 40, 45, "k", json!(2)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn nil_read_before_any_write_completes_is_not_stale() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(1, 5, 8, "k", json!(null))
        .read(1, 9, 12, "k", json!(null)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn nil_read_of_a_key_never_written_is_not_stale() {
    let r = run(Builder::new()
        .write(0, 0, 10, "other", 1)
        .read(1, 50, 55, "k", json!(null)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn value_never_written_is_unexpected() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(1, 20, 25, "k", json!(99)));
    assert_eq!(kinds(&r), ["unexpected"]);
    assert!(r.anomalies[0]
        .explanation
        .contains("ever attempted the value 99"));
    assert_eq!(r.stats["unexpected"], json!(1));
    assert_eq!(r.stats["stale"], json!(0));
}

#[test]
fn value_of_a_failed_write_is_unexpected() {
    let r = run(Builder::new()
        .write_fail(0, 0, 10, "k", 1)
        .read(1, 20, 25, "k", json!(1)));
    assert_eq!(kinds(&r), ["unexpected"]);
    assert!(r.anomalies[0].explanation.contains("failed"));
    assert_eq!(r.anomalies[0].ops.len(), 4, "read and failed write");
}

#[test]
fn cas_is_a_write_of_its_new_value() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .cas(0, 20, 30, "k", 1, 2)
        .read(1, 40, 45, "k", json!(1))
        .read(1, 50, 55, "k", json!(2)));
    assert_eq!(kinds(&r), ["stale-read"]);
    assert_eq!(r.stats["reads"], json!(2));
}

#[test]
fn final_reads_are_excluded() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(1, 15, 18, "k", json!(1))
        .final_read(2, 100, 101, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
    assert_eq!(r.stats["reads"], json!(1));
    assert_eq!(r.stats["final_reads_excluded"], json!(1));
}

#[test]
fn duplicate_values_are_judged_by_the_least_stale_write() {
    // A foreign history writes 1 twice; reading 1 at 50 matches the second write, not stale.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .write(0, 35, 40, "k", 1)
        .read(1, 50, 55, "k", json!(1)));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.anomalies);
}

#[test]
fn per_node_stats_and_worst_first_order() {
    // Process 1 reads on n2, process 2 on n3 (the builder's node = n{p % 3 + 1}).
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(1, 40, 41, "k", json!(1))
        .read(2, 90, 91, "k", json!(1))
        .read(2, 92, 93, "k", json!(2)));
    assert_eq!(r.stats["stale"], json!(2));
    let n3 = &r.stats["per_node"]["n3"];
    assert_eq!(n3["reads"], json!(2));
    assert_eq!(n3["stale"], json!(1));
    assert_eq!(n3["stale_fraction"], json!(0.5));
    assert_eq!(n3["staleness_ms"], json!([60.0]));
    assert_eq!(r.stats["per_node"]["n2"]["staleness_ms_p99"], json!(10.0));
    // The 60 ms stale read on n3 is listed first.
    assert_eq!(r.anomalies[0].details["staleness_ms"], json!(60.0));
    assert_eq!(r.stats["stale_fraction"], json!(2.0 / 3.0));
}

#[test]
fn stats_without_stale_reads_have_null_quantiles() {
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(1, 20, 25, "k", json!(1)));
    assert_eq!(r.stats["staleness_ms_p99"], Value::Null);
    assert_eq!(r.stats["stale_fraction"], json!(0.0));
    assert_eq!(r.stats["versions_behind_max"], json!(0));
}

#[test]
fn anomalies_are_capped_with_a_note() {
    let mut b = Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2);
    for i in 0..(MAX_ANOMALIES as u64 + 5) {
        b = b.read(1, 100 + 2 * i, 101 + 2 * i, "k", json!(1));
    }
    let r = run(b);
    assert_eq!(r.anomalies.len(), MAX_ANOMALIES);
    assert_eq!(r.stats["stale"], json!(MAX_ANOMALIES + 5));
    assert!(
        r.notes.iter().any(|n| n.contains("5 are omitted")),
        "{:?}",
        r.notes
    );
    // Worst first: the latest read is the most stale.
    assert_eq!(
        r.anomalies[0].details["staleness_ms"],
        json!((100 + 2 * (MAX_ANOMALIES + 4) - 30) as f64)
    );
}

#[test]
fn staleness_samples_are_capped_per_node() {
    let picks = samples(&(0..5000).map(f64::from).collect::<Vec<_>>());
    assert_eq!(picks.len(), SAMPLES_PER_NODE);
    assert_eq!(picks[0], 0.0);
    assert!(picks[SAMPLES_PER_NODE - 1] > 4990.0);
}

#[test]
fn set_histories_are_skipped() {
    let text = r#"{"process":0,"type":"invoke","f":"read","key":"s","value":null,"time":1}
{"process":0,"type":"ok","f":"read","key":"s","value":[1,2],"time":2}"#;
    let h = crate::history::jsonl::read_str(text).unwrap().history;
    let r = check(&h, &CheckOptions::default());
    assert!(r.skipped.is_some());
}

#[test]
fn one_collection_read_does_not_switch_the_checker_off() {
    // A stale read, then a read returning a list: the stale read is still reported.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .write(0, 20, 30, "k", 2)
        .read(1, 50, 55, "k", json!(1))
        .read(1, 60, 65, "k", json!([1, 2])));
    assert_eq!(kinds(&r), ["stale-read"]);
    assert!(r.notes.iter().any(|n| n.contains("returned a collection")));
    // Without the stale read, the clean result is unknown, not valid: a stale read may hide
    // in the read it could not judge.
    let r = run(Builder::new()
        .write(0, 0, 10, "k", 1)
        .read(1, 50, 55, "k", json!(1))
        .read(1, 60, 65, "k", json!([1, 2])));
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.skipped.is_none());
    let s = crate::session::check(
        &Builder::new()
            .write(0, 0, 10, "k", 1)
            .read(0, 50, 55, "k", json!(1))
            .read(0, 60, 65, "k", json!([1, 2]))
            .build(),
        &CheckOptions::default(),
    );
    assert_eq!(s.valid, Validity::Unknown);
    assert!(s.skipped.is_none());
}

#[test]
fn history_without_reads_is_skipped() {
    let r = run(Builder::new().write(0, 0, 10, "k", 1));
    assert!(r.skipped.is_some());
}

/// Timing on a large synthetic history: 10 keys, 10,000 writes, 100,000 replica reads of which
/// two in five lag. Run with
/// `cargo test --release -p redline-checkers stale_reads_at_scale -- --ignored --nocapture`.
#[test]
#[ignore]
fn stale_reads_at_scale() {
    let mut b = Builder::new();
    for key in 0..10u64 {
        for n in 0..1_000u64 {
            b = b.write(key, 10 * n, 10 * n + 2, &format!("k{key}"), n as i64);
        }
    }
    for i in 0..100_000u64 {
        let (p, slot) = (100 + i % 20, i / 20);
        let t = 2 * slot;
        let lag = [0, 0, 0, 30, 200][(i % 5) as usize];
        let seen = t.saturating_sub(lag + 3) / 10;
        let value = if t < lag + 3 {
            Value::Null
        } else {
            json!(seen)
        };
        b = b.read(p, t, t + 1, &format!("k{}", i % 10), value);
    }
    let h = b.build();
    let started = std::time::Instant::now();
    let r = check(&h, &CheckOptions::default());
    let stale_elapsed = started.elapsed();
    let started = std::time::Instant::now();
    let s = crate::session::check(&h, &CheckOptions::default());
    eprintln!(
        "{} ops: stale-reads {stale_elapsed:?} (reads {}, stale {}, p99 {} ms, behind max {}); \
         session {:?} (ryw {}, monotonic {})",
        h.len(),
        r.stats["reads"],
        r.stats["stale"],
        r.stats["staleness_ms_p99"],
        r.stats["versions_behind_max"],
        started.elapsed(),
        s.stats["read_your_writes"],
        s.stats["monotonic_reads"],
    );
    assert_eq!(r.anomalies.len(), MAX_ANOMALIES);
}
