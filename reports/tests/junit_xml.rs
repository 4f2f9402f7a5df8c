//! junit.xml parses back as JUnit with one testsuite per run, one testcase per checker and per
//! expectation, and count attributes that agree with the cases.

mod common;

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use redline_checkers::Results;
use redline_reports::junit_xml;

fn parse(xml: &str) -> Report {
    Report::deserialize_from_str(xml).expect("junit.xml parses back")
}

/// Counts (tests, failures, errors, skipped) from the testcases themselves.
fn case_counts(suite: &quick_junit::TestSuite) -> (usize, usize, usize, usize) {
    let mut counts = (suite.test_cases.len(), 0, 0, 0);
    for case in &suite.test_cases {
        match &case.status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                ..
            } => counts.1 += 1,
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            } => counts.2 += 1,
            TestCaseStatus::Skipped { .. } => counts.3 += 1,
            TestCaseStatus::Success { .. } => {}
        }
    }
    counts
}

#[test]
fn single_run_has_a_case_per_checker_and_expectation() {
    let info = common::run_info();
    let results = common::results();
    let xml = junit_xml("redline", &[(Some(&info), &results)]).expect("serialises");
    assert!(xml.contains("<testsuites"), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    let report = parse(&xml);
    assert_eq!(report.test_suites.len(), 1);
    let suite = &report.test_suites[0];
    assert_eq!(
        suite.name.as_str(),
        "set-register-kill 2025-02-01T10:00:00Z"
    );
    // 5 checkers + 3 expectations.
    assert_eq!(case_counts(suite), (8, 3, 2, 1), "lost-writes, stale-reads, broken rule fail; session and undecided rule error; linearizable skipped");
    assert_eq!(
        (suite.tests, suite.failures, suite.errors, suite.skipped),
        case_counts(suite)
    );
    assert_eq!(
        (report.tests, report.failures, report.errors, report.skipped),
        (8, 3, 2, 1)
    );

    let lost = suite
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "lost-writes")
        .expect("lost-writes case");
    let TestCaseStatus::NonSuccess {
        message,
        description,
        ..
    } = &lost.status
    else {
        panic!("lost-writes should fail");
    };
    assert_eq!(
        message.as_ref().map(|m| m.as_str()),
        Some("1 anomalies: lost 1")
    );
    let text = description.as_ref().map(|d| d.as_str()).unwrap_or("");
    assert!(
        text.contains("[lost] ops 0, 1, 22: add of 1 to s"),
        "{text}"
    );

    let skipped = suite
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "linearizable")
        .expect("case");
    assert!(
        matches!(&skipped.status, TestCaseStatus::Skipped { message: Some(m), .. } if m.as_str() == "reads are served by replicas")
    );

    let property = |name: &str| {
        suite
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.as_str().to_string())
    };
    assert_eq!(property("server").as_deref(), Some("valkey"));
    assert_eq!(property("server_version").as_deref(), Some("8.0.2"));
    assert_eq!(property("seed").as_deref(), Some("42"));
    assert_eq!(property("verdict").as_deref(), Some("invalid"));
}

#[test]
fn a_suite_of_runs_has_one_testsuite_each_and_summed_counts() {
    let info = common::run_info();
    let failing = common::results();
    let passing = Results::new(Default::default());
    let xml =
        junit_xml("nightly", &[(Some(&info), &failing), (None, &passing)]).expect("serialises");
    let report = parse(&xml);
    assert_eq!(report.name.as_ref().map(|n| n.as_str()), Some("nightly"));
    assert_eq!(report.test_suites.len(), 2);
    assert_eq!(report.test_suites[1].name.as_str(), "run 2");
    assert_eq!(report.test_suites[1].tests, 0);
    let summed = report
        .test_suites
        .iter()
        .map(case_counts)
        .fold((0, 0, 0, 0), |a, c| {
            (a.0 + c.0, a.1 + c.1, a.2 + c.2, a.3 + c.3)
        });
    assert_eq!(
        (report.tests, report.failures, report.errors, report.skipped),
        summed
    );
}
