//! `junit.xml`: one `<testsuite>` per run, one `<testcase>` per checker and per expectation, so
//! a CI system shows redline's verdicts next to its unit tests.
//!
//! Mapping (settled here): an INVALID checker is a `<failure>` whose message counts anomalies
//! by kind and whose text gives the first few explanations with their witness ops; an `unknown`
//! checker is an `<error>` (the run could not decide, which CI should not read as a pass); a
//! skipped checker is `<skipped>` with its reason. An expectation that broke is a `<failure>`,
//! one left undecided an `<error>`.

use crate::error::ReportError;
use crate::run_info::RunInfo;
use crate::verdict::expectation_label;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use redline_checkers::{CheckResult, ExpectationOutcome, Results, Validity};
use std::time::Duration;

/// How many anomaly explanations a failure's text carries; the rest are in `results.json`.
pub const EXPLANATIONS_PER_FAILURE: usize = 5;

/// The JUnit XML of one or several runs (a suite). `suite_name` names the `<testsuites>` root.
pub fn junit_xml(
    suite_name: &str,
    runs: &[(Option<&RunInfo>, &Results)],
) -> Result<String, ReportError> {
    let mut report = Report::new(suite_name);
    for (i, (info, results)) in runs.iter().enumerate() {
        report.add_test_suite(run_suite(i, *info, results));
    }
    Ok(report.to_string()?)
}

fn run_suite(position: usize, info: Option<&RunInfo>, results: &Results) -> TestSuite {
    let name = match info {
        Some(info) if !info.started_at.is_empty() => format!("{} {}", info.name, info.started_at),
        Some(info) if !info.name.is_empty() => info.name.clone(),
        _ => format!("run {}", position + 1),
    };
    let classname = info
        .map(|i| i.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "redline".to_string());
    let mut suite = TestSuite::new(name);
    if let Some(info) = info {
        add_properties(&mut suite, info);
        suite.set_time(Duration::from_millis(info.duration_ms));
        if !info.command.is_empty() {
            suite.set_system_out(format!("reproduce with: {}\n", info.command));
        }
    }
    suite.add_property(("verdict", results.valid.as_str()));
    for (checker, result) in &results.checkers {
        let mut case = TestCase::new(checker.as_str(), checker_status(result));
        case.set_classname(classname.as_str());
        suite.add_test_case(case);
    }
    for expectation in &results.expectations {
        let mut case = TestCase::new(
            format!("expect {}", expectation.rule),
            expectation_status(expectation),
        );
        case.set_classname(classname.as_str());
        suite.add_test_case(case);
    }
    suite
}

fn add_properties(suite: &mut TestSuite, info: &RunInfo) {
    let properties = [
        ("server", info.server.name.clone()),
        ("server_version", info.server.version.clone()),
        ("seed", info.seed.to_string()),
        ("workload", info.workload.clone()),
        ("nemesis", info.nemesis.clone()),
        ("started_at", info.started_at.clone()),
        ("command", info.command.clone()),
    ];
    for (name, value) in properties {
        if !value.is_empty() {
            suite.add_property((name, value.as_str()));
        }
    }
}

fn checker_status(result: &CheckResult) -> TestCaseStatus {
    if let Some(reason) = &result.skipped {
        let mut status = TestCaseStatus::skipped();
        status.set_message(reason.as_str());
        return status;
    }
    match result.valid {
        Validity::Valid => TestCaseStatus::success(),
        Validity::Invalid => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type("anomalies");
            status.set_message(anomaly_summary(result));
            status.set_description(anomaly_text(result));
            status
        }
        Validity::Unknown => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_type("unknown");
            let notes = if result.notes.is_empty() {
                "the checker could not decide".to_string()
            } else {
                result.notes.join("; ")
            };
            status.set_message(notes);
            status
        }
    }
}

/// `"3 anomalies: lost 2, unexpected 1"`.
fn anomaly_summary(result: &CheckResult) -> String {
    let kinds: Vec<String> = result
        .counts_by_kind()
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    if kinds.is_empty() {
        // Invalid without anomalies should not happen; say so rather than print nothing.
        return format!("invalid (no anomalies listed) {}", result.notes.join("; "));
    }
    format!("{} anomalies: {}", result.anomaly_count(), kinds.join(", "))
}

fn anomaly_text(result: &CheckResult) -> String {
    let mut text = String::new();
    for a in result.anomalies.iter().take(EXPLANATIONS_PER_FAILURE) {
        let ops: Vec<String> = a.ops.iter().map(u64::to_string).collect();
        text.push_str(&format!(
            "[{}] ops {}: {}\n",
            a.kind,
            ops.join(", "),
            a.explanation
        ));
    }
    let rest = result
        .anomalies
        .len()
        .saturating_sub(EXPLANATIONS_PER_FAILURE);
    if rest > 0 {
        text.push_str(&format!("... and {rest} more in results.json\n"));
    }
    text
}

fn expectation_status(e: &ExpectationOutcome) -> TestCaseStatus {
    let kind = match e.held {
        Some(true) => return TestCaseStatus::success(),
        Some(false) => NonSuccessKind::Failure,
        None => NonSuccessKind::Error,
    };
    let mut status = TestCaseStatus::non_success(kind);
    status.set_type(expectation_label(e.held));
    let message = if e.detail.is_empty() {
        format!("expectation {} {}", e.rule, expectation_label(e.held))
    } else {
        e.detail.clone()
    };
    status.set_message(message);
    status
}
