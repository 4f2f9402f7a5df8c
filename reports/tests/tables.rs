//! The terminal summary and the `redline runs` listing.

mod common;

use redline_checkers::Validity;
use redline_reports::{runs_table, summary_table, RunRow};
use std::collections::BTreeMap;

#[test]
fn summary_shows_ops_verdicts_anomalies_stats_and_expectations() {
    let history = common::history();
    let info = common::run_info();
    let table = summary_table(Some(&info), &history, &common::results());
    for needle in [
        "test set-register-kill",
        "verdict: INVALID",
        "│ write        │ 2  │ 0    │ 1    │ 3     │", // 2 ok, 1 info (the timed-out write)
        "│ read (final) │ 1  │ 0    │ 0    │ 1     │",
        "skipped (reads are served by replicas)",
        "search budget exhausted",
        "│ stale-reads │ stale-read   │ 1     │",
        "staleness p99 (ms)",
        "│ 18 ",
        "broken",
        "undecided",
        // The paragraph that says why, of the first checker that broke.
        "first anomaly (lost-writes, lost, key s):\nadd of 1 to s was acknowledged",
    ] {
        assert!(table.contains(needle), "missing {needle:?} in\n{table}");
    }
}

#[test]
fn runs_are_listed_newest_first_with_anomaly_counts() {
    let info = common::run_info();
    let mut older = RunRow::new(&info, &common::results(), 11);
    older.time = "2025-01-01T00:00:00Z".into();
    let newer = RunRow {
        time: "2025-03-01T00:00:00Z".into(),
        test: "register-pause".into(),
        workload: "register".into(),
        nemesis: "pause".into(),
        ops: 500,
        verdict: Validity::Valid,
        anomalies: BTreeMap::new(),
        incomplete: false,
    };
    let table = runs_table(&[older, newer]);
    let new_at = table.find("register-pause").expect("newer row");
    let old_at = table.find("set-register-kill").expect("older row");
    assert!(new_at < old_at, "newest first:\n{table}");
    assert!(table.contains("lost: 1, stale-read: 1"), "{table}");
    assert!(table.contains("INVALID"));
}
