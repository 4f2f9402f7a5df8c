//! From a test's runs to one verdict, one detection rate and the comparison figures.
//!
//! How a rule is decided over repeated runs (settled here):
//! - A *safety* rule (`no-lost-writes`, `valid`, `wait-durable=N`, `stale-reads<=P%`,
//!   `outage<=MS`, ...) claims something of every run: it is broken if any run broke it,
//!   undecided if none broke it but some run could not decide it, held only if every checked
//!   run held it.
//! - An *existence* rule (`lost-writes>=N`, `stale-reads>=P%`, `outage>=MS`) documents
//!   that a behaviour happens: one run that shows it proves it, so it holds if any run held
//!   it; it is broken only if every checked run decided against it. Faults land at seeded but
//!   real times, so a run may simply not hit the window; the detection rate says how often it
//!   did.
//!
//! A run *detects* when it shows what the rules look for: a safety rule broken or an existence
//! rule held. The detection rate is detections over checked runs, with its Wilson interval.
//!
//! A test's verdict: BROKEN if a rule is broken; else `could not run` if a rule is undecided
//! or any planned run was not checked (failed, interrupted, not started): a run that did not
//! happen never counts as passed; else held. The suite's exit code: 1 if any test is BROKEN
//! (a broken promise outranks an incomplete run, as in the checkers' composition), else 2 if
//! any could not run, else 0.

use super::file::SuiteTest;
use super::record::{RunRecord, RunStatus};
use super::stats::Rate;
use redline_checkers::expect::Rule;
use redline_checkers::ExpectationOutcome;
use serde::Serialize;
use std::collections::BTreeMap;
use std::str::FromStr;

/// A test's verdict over its runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestVerdict {
    Held,
    Broken,
    CouldNotRun,
}

impl TestVerdict {
    pub fn label(self) -> &'static str {
        match self {
            TestVerdict::Held => "held",
            TestVerdict::Broken => "BROKEN",
            TestVerdict::CouldNotRun => "could not run",
        }
    }
}

/// One test, summed up.
#[derive(Debug, Clone, Serialize)]
pub struct TestSummary {
    pub name: String,
    pub workload: String,
    pub nemesis: String,
    pub planned: u64,
    pub checked: u64,
    pub detection: Rate,
    pub verdict: TestVerdict,
    /// Why, in a sentence: the broken rule, or what could not run.
    pub reason: String,
    /// Each rule decided over every run.
    pub expectations: Vec<ExpectationOutcome>,
    /// The anomaly kind with the most anomalies over all runs, and that total.
    pub worst_anomaly: Option<(String, u64)>,
    pub lost_total: Option<u64>,
    pub lost_max: Option<u64>,
    /// Stale reads over reads, pooled over runs.
    pub stale_fraction: Option<f64>,
    /// The largest per-run staleness p99.
    pub staleness_ms_p99_max: Option<f64>,
    /// The slowest failover (fault to new master declared) over the runs.
    pub failover_ms_max: Option<f64>,
    /// Mean per checked run of the time without a successful op after a failure.
    pub unavailable_ms_mean: Option<f64>,
    pub lost_by_acked: BTreeMap<String, u64>,
    /// The fewest and the most keys a checked run used.
    pub keys: Option<(u64, u64)>,
}

/// Whether a rule is an existence claim (one run that shows it suffices).
pub fn is_existence_rule(rule: &str) -> bool {
    matches!(
        Rule::from_str(rule),
        Ok(Rule::LostWritesAtLeast(_) | Rule::StaleReadsAtLeast(_) | Rule::OutageAtLeast(_))
    )
}

/// Whether a run shows what its rules look for.
pub fn detected(run: &RunRecord) -> bool {
    run.checked()
        && run.expectations.iter().any(|e| {
            if is_existence_rule(&e.rule) {
                e.held == Some(true)
            } else {
                e.held == Some(false)
            }
        })
}

/// Sums up a test from its runs (in run order).
pub fn summarise(test: &SuiteTest, runs: &[&RunRecord]) -> TestSummary {
    let checked: Vec<&RunRecord> = runs.iter().copied().filter(|r| r.checked()).collect();
    let detections = checked.iter().filter(|r| detected(r)).count() as u64;
    let expectations = decide_rules(&checked);
    let (verdict, reason) = verdict(test, runs, &checked, &expectations);
    let measures: Vec<_> = checked.iter().map(|r| &r.measures).collect();
    let lost: Vec<u64> = measures.iter().filter_map(|m| m.lost).collect();
    let reads: u64 = measures.iter().filter_map(|m| m.reads).sum();
    let stale: u64 = measures.iter().filter_map(|m| m.stale).sum();
    let unavailable: Vec<f64> = measures.iter().filter_map(|m| m.unavailable_ms).collect();
    let mut anomalies: BTreeMap<String, u64> = BTreeMap::new();
    let mut lost_by_acked: BTreeMap<String, u64> = BTreeMap::new();
    for m in &measures {
        for (k, n) in &m.anomalies {
            *anomalies.entry(k.clone()).or_insert(0) += n;
        }
        for (k, n) in &m.lost_by_acked {
            *lost_by_acked.entry(k.clone()).or_insert(0) += n;
        }
    }
    TestSummary {
        name: test.name.clone(),
        workload: test.config.workload.clone(),
        nemesis: test.config.nemesis.clone(),
        planned: test.repeat,
        checked: checked.len() as u64,
        detection: Rate::wilson(detections, checked.len() as u64),
        verdict,
        reason,
        expectations,
        worst_anomaly: anomalies.into_iter().max_by_key(|(_, n)| *n),
        lost_total: (!lost.is_empty()).then(|| lost.iter().sum()),
        lost_max: lost.iter().copied().max(),
        stale_fraction: (reads > 0).then(|| stale as f64 / reads as f64),
        staleness_ms_p99_max: measures
            .iter()
            .filter_map(|m| m.staleness_ms_p99)
            .reduce(f64::max),
        failover_ms_max: measures
            .iter()
            .filter_map(|m| m.failover_ms_max)
            .reduce(f64::max),
        unavailable_ms_mean: (!unavailable.is_empty())
            .then(|| unavailable.iter().sum::<f64>() / unavailable.len() as f64),
        lost_by_acked,
        keys: measures
            .iter()
            .filter_map(|m| m.keys)
            .fold(None, |range, k| match range {
                None => Some((k, k)),
                Some((lo, hi)) => Some((lo.min(k), hi.max(k))),
            }),
    }
}

/// Each rule (in the order the runs list them) decided over the checked runs.
fn decide_rules(checked: &[&RunRecord]) -> Vec<ExpectationOutcome> {
    let mut rules: Vec<String> = Vec::new();
    for r in checked {
        for e in &r.expectations {
            if !rules.contains(&e.rule) {
                rules.push(e.rule.clone());
            }
        }
    }
    rules
        .into_iter()
        .map(|rule| {
            let outcomes: Vec<(&RunRecord, &ExpectationOutcome)> = checked
                .iter()
                .filter_map(|r| Some((*r, r.expectations.iter().find(|e| e.rule == rule)?)))
                .collect();
            decide_rule(rule, &outcomes)
        })
        .collect()
}

fn decide_rule(rule: String, outcomes: &[(&RunRecord, &ExpectationOutcome)]) -> ExpectationOutcome {
    let with = |held: Option<bool>| -> Vec<&(&RunRecord, &ExpectationOutcome)> {
        outcomes.iter().filter(|(_, e)| e.held == held).collect()
    };
    let (held, broken, undecided) = (with(Some(true)), with(Some(false)), with(None));
    let n = outcomes.len();
    let first = |list: &[&(&RunRecord, &ExpectationOutcome)]| -> String {
        list.first().map_or(String::new(), |(r, e)| {
            format!(
                "; first in run {} (seed {}): {}",
                r.run + 1,
                r.seed,
                e.detail
            )
        })
    };
    let (outcome, detail) = if is_existence_rule(&rule) {
        if !held.is_empty() {
            let d = format!("shown in {} of {n} runs{}", held.len(), first(&held));
            (Some(true), d)
        } else if !undecided.is_empty() || n == 0 {
            let d = format!(
                "not shown; {} of {n} runs undecided{}",
                undecided.len(),
                first(&undecided)
            );
            (None, d)
        } else {
            let d = format!("not shown in any of {n} runs{}", first(&broken));
            (Some(false), d)
        }
    } else if !broken.is_empty() {
        let d = format!("broken in {} of {n} runs{}", broken.len(), first(&broken));
        (Some(false), d)
    } else if !undecided.is_empty() || n == 0 {
        let d = format!(
            "undecided in {} of {n} runs{}",
            undecided.len(),
            first(&undecided)
        );
        (None, d)
    } else {
        (Some(true), format!("held in all {n} runs"))
    };
    ExpectationOutcome {
        rule,
        held: outcome,
        detail,
    }
}

fn verdict(
    test: &SuiteTest,
    runs: &[&RunRecord],
    checked: &[&RunRecord],
    rules: &[ExpectationOutcome],
) -> (TestVerdict, String) {
    if let Some(broken) = rules.iter().find(|e| e.held == Some(false)) {
        return (
            TestVerdict::Broken,
            format!("expectation {} broken: {}", broken.rule, broken.detail),
        );
    }
    let missing = test.repeat.saturating_sub(checked.len() as u64);
    if missing > 0 {
        let why: Vec<String> = runs
            .iter()
            .filter(|r| !r.checked())
            .map(|r| {
                let status = match r.status {
                    RunStatus::Failed => "failed",
                    RunStatus::Interrupted => "interrupted",
                    _ => "not run",
                };
                let reason = r.reason.as_deref().unwrap_or("");
                format!("run {} {status}: {reason}", r.run + 1)
            })
            .collect();
        let first = why.first().cloned().unwrap_or_default();
        let more = if why.len() > 1 {
            format!(" (and {} more)", why.len() - 1)
        } else {
            String::new()
        };
        return (
            TestVerdict::CouldNotRun,
            format!(
                "{missing} of {} runs not checked; {first}{more}",
                test.repeat
            ),
        );
    }
    if let Some(undecided) = rules.iter().find(|e| e.held.is_none()) {
        return (
            TestVerdict::CouldNotRun,
            format!(
                "expectation {} undecided: {}",
                undecided.rule, undecided.detail
            ),
        );
    }
    (
        TestVerdict::Held,
        format!("every expectation held over {} runs", checked.len()),
    )
}

/// The suite's exit code: 1 if any test broke, else 2 if any could not run, else 0.
pub fn exit_code(summaries: &[TestSummary]) -> i32 {
    if summaries.iter().any(|s| s.verdict == TestVerdict::Broken) {
        1
    } else if summaries
        .iter()
        .any(|s| s.verdict == TestVerdict::CouldNotRun)
    {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
