//! The suite's own folder, `store/suites/<suite>/<time>/`: `suite.json` (every test's summary
//! and every run's record, seed and folder) and `junit.xml` for CI.
//!
//! The combined `junit.xml` has one `<testsuite>` per *test*, not per run, whose test cases
//! are the test's expectations decided over all its runs (summary.rs), plus one error case per
//! run that was not checked. A documented behaviour (`lost-writes>=1` shown in 2 of 5 runs) is
//! then green, as the suite's exit code says, rather than three red runs; each run's own
//! `junit.xml`, with a case per checker, stays in its run folder.

use super::record::{RunRecord, RunStatus};
use super::summary::{TestSummary, TestVerdict};
use super::SuiteOutcome;
use anyhow::{Context, Result};
use redline_checkers::{ExpectationOutcome, Results, Validity};
use redline_reports::RunInfo;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const SUITE_JSON: &str = "suite.json";

#[derive(Serialize)]
struct SuiteJson<'a> {
    suite: &'a str,
    file: String,
    started_at: &'a str,
    duration_ms: u64,
    /// The base seed of tests that set none.
    seed: u64,
    time_budget_s: Option<f64>,
    exit_code: i32,
    tests: &'a [TestSummary],
    runs: &'a [RunRecord],
}

/// Writes `suite.json` and `junit.xml` into `dir`.
pub fn write(dir: &Path, name: &str, file: &Path, outcome: &SuiteOutcome) -> Result<()> {
    let json = SuiteJson {
        suite: name,
        file: file.display().to_string(),
        started_at: &outcome.started_at,
        duration_ms: outcome.duration.as_millis() as u64,
        seed: outcome.options.seed,
        time_budget_s: outcome.options.time_budget.map(|b| b.as_secs_f64()),
        exit_code: outcome.exit_code,
        tests: &outcome.summaries,
        runs: &outcome.records,
    };
    let path = dir.join(SUITE_JSON);
    std::fs::write(&path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let xml = junit(name, &outcome.summaries, &outcome.records)?;
    let path = dir.join(crate::store::JUNIT);
    std::fs::write(&path, xml).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The combined JUnit XML: one testsuite per test, its cases the expectations over all runs.
pub fn junit(name: &str, summaries: &[TestSummary], records: &[RunRecord]) -> Result<String> {
    let per_test: Vec<(RunInfo, Results)> = summaries
        .iter()
        .map(|s| {
            let runs: Vec<&RunRecord> = records.iter().filter(|r| r.test == s.name).collect();
            (test_info(s, &runs), test_results(s, &runs))
        })
        .collect();
    let pairs: Vec<(Option<&RunInfo>, &Results)> =
        per_test.iter().map(|(i, r)| (Some(i), r)).collect();
    Ok(redline_reports::junit_xml(name, &pairs)?)
}

/// The test's description: its first run's, named for the test, timed over all its runs.
fn test_info(s: &TestSummary, runs: &[&RunRecord]) -> RunInfo {
    let mut info = runs
        .iter()
        .find_map(|r| r.info.clone())
        .unwrap_or_else(|| RunInfo {
            workload: s.workload.clone(),
            nemesis: s.nemesis.clone(),
            ..RunInfo::default()
        });
    info.name = s.name.clone();
    info.started_at = String::new();
    info.duration_ms = runs.iter().map(|r| r.duration_ms).sum();
    let seeds: Vec<String> = runs.iter().map(|r| r.seed.to_string()).collect();
    info.command = format!(
        "{} (seeds of the {} runs: {}; run i replays with --seed of run i)",
        info.command,
        runs.len(),
        seeds.join(", ")
    );
    info
}

fn test_results(s: &TestSummary, runs: &[&RunRecord]) -> Results {
    let mut expectations = s.expectations.clone();
    for r in runs.iter().filter(|r| r.status != RunStatus::Checked) {
        let what = match r.status {
            RunStatus::Failed => "could not run",
            RunStatus::Interrupted => "was interrupted",
            _ => "was not run",
        };
        expectations.push(ExpectationOutcome {
            rule: format!("run {} (seed {})", r.run + 1, r.seed),
            held: None,
            detail: format!(
                "run {} {what}: {}",
                r.run + 1,
                r.reason.as_deref().unwrap_or("")
            ),
        });
    }
    let mut results = Results::new(BTreeMap::new());
    results.valid = match s.verdict {
        TestVerdict::Held => Validity::Valid,
        TestVerdict::Broken => Validity::Invalid,
        TestVerdict::CouldNotRun => Validity::Unknown,
    };
    results.expectations = expectations;
    results
}
