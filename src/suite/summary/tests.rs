//! Deciding rules over repeated runs: safety rules need every run, existence rules one.

use super::*;
use crate::config::TestConfig;
use crate::suite::record::Measures;

fn test(repeat: u64) -> SuiteTest {
    SuiteTest {
        name: "t".into(),
        repeat,
        config: TestConfig::default(),
        line: 1,
    }
}

fn run(i: u64, outcomes: &[(&str, Option<bool>)]) -> RunRecord {
    RunRecord {
        test: "t".into(),
        run: i,
        seed: 100 + i,
        status: RunStatus::Checked,
        reason: None,
        run_dir: None,
        duration_ms: 1000,
        expectations: outcomes
            .iter()
            .map(|(rule, held)| ExpectationOutcome {
                rule: rule.to_string(),
                held: *held,
                detail: format!("measured in run {i}"),
            })
            .collect(),
        measures: Measures {
            lost: Some(i),
            ..Measures::default()
        },
        info: None,
    }
}

fn summary(t: &SuiteTest, runs: &[RunRecord]) -> TestSummary {
    let refs: Vec<&RunRecord> = runs.iter().collect();
    summarise(t, &refs)
}

#[test]
fn safety_rule_breaks_on_one_run() {
    let runs = [
        run(0, &[("no-lost-writes", Some(true))]),
        run(1, &[("no-lost-writes", Some(false))]),
        run(2, &[("no-lost-writes", Some(true))]),
    ];
    let s = summary(&test(3), &runs);
    assert_eq!(s.verdict, TestVerdict::Broken);
    assert!(s.reason.contains("broken in 1 of 3 runs"), "{}", s.reason);
    assert!(s.reason.contains("run 2 (seed 101)"), "{}", s.reason);
    assert_eq!((s.detection.hits, s.detection.trials), (1, 3));
    assert_eq!((s.lost_total, s.lost_max), (Some(3), Some(2)));
    assert_eq!(exit_code(&[s]), 1);
}

#[test]
fn existence_rule_holds_on_one_run() {
    let runs = [
        run(0, &[("lost-writes>=1", Some(false))]),
        run(1, &[("lost-writes>=1", Some(true))]),
    ];
    let s = summary(&test(2), &runs);
    assert_eq!(s.verdict, TestVerdict::Held, "{}", s.reason);
    assert_eq!(s.detection.hits, 1);
    let never = [run(0, &[("lost-writes>=1", Some(false))])];
    let s = summary(&test(1), &never);
    assert_eq!(s.verdict, TestVerdict::Broken);
    assert_eq!(s.detection.hits, 0);
}

/// `outage>=MS` documents an outage (existence); `outage<=MS` promises service
/// (safety).
#[test]
fn outage_rules_are_existence_at_least_and_safety_at_most() {
    assert!(is_existence_rule("outage>=2000ms"));
    assert!(is_existence_rule("outage >= 2000"));
    assert!(!is_existence_rule("outage<=500ms"));
    let outage = [
        run(0, &[("outage>=2000ms", Some(false))]),
        run(1, &[("outage>=2000ms", Some(true))]),
    ];
    assert_eq!(summary(&test(2), &outage).verdict, TestVerdict::Held);
    let served = [
        run(0, &[("outage<=500ms", Some(true))]),
        run(1, &[("outage<=500ms", Some(false))]),
    ];
    assert_eq!(summary(&test(2), &served).verdict, TestVerdict::Broken);
}

#[test]
fn runs_that_did_not_happen_never_pass() {
    let runs = [
        run(0, &[("valid", Some(true))]),
        RunRecord::without_results("t", 1, 101, RunStatus::NotRun, "time budget".into()),
    ];
    let s = summary(&test(2), &runs);
    assert_eq!(s.verdict, TestVerdict::CouldNotRun);
    assert!(s.reason.contains("1 of 2 runs not checked"), "{}", s.reason);
    assert_eq!(s.detection.trials, 1);
    assert_eq!(exit_code(std::slice::from_ref(&s)), 2);
    // A broken test outranks one that could not run.
    let broken = summary(&test(1), &[run(0, &[("valid", Some(false))])]);
    assert_eq!(exit_code(&[s, broken]), 1);
}

#[test]
fn undecided_rule_is_could_not_run() {
    let runs = [
        run(0, &[("linearizable", Some(true))]),
        run(1, &[("linearizable", None)]),
    ];
    let s = summary(&test(2), &runs);
    assert_eq!(s.verdict, TestVerdict::CouldNotRun);
    assert!(s.reason.contains("undecided"), "{}", s.reason);
}

#[test]
fn all_held_is_held() {
    let runs = [
        run(0, &[("valid", Some(true))]),
        run(1, &[("valid", Some(true))]),
    ];
    let s = summary(&test(2), &runs);
    assert_eq!(s.verdict, TestVerdict::Held);
    assert_eq!(exit_code(&[s]), 0);
}
