//! Running a suite's tests one after another, each as many times as it asks, through the same
//! pipeline as `redline test` ([`runner::run_test`]), so a suite run and a single run produce
//! the same run folder.
//!
//! Seeds: run i (0-based) of a test uses the test's `seed` plus i, or, when the test sets no
//! seed, the suite's seed (one from the clock per invocation) plus i. Every seed is recorded in
//! `suite.json` and in the run's `test.json`, whose `command` replays that one run.
//!
//! Stopping: before each run the time budget and the shutdown token are checked; once either
//! says stop, every remaining run is recorded as not run (they never count as passed). The
//! signal handler is installed once for the whole suite by the caller; a Ctrl-C during a run is
//! handled by the runner (it heals, tears down and keeps the history), then the suite stops.

use super::file::SuiteTest;
use super::progress::SuiteProgress;
use super::record::{Measures, RunRecord, RunStatus};
use crate::runner;
use crate::shutdown::Shutdown;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How to run the suite.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The store every run folder goes into (overrides nothing: suite tables may not set it).
    pub store: PathBuf,
    /// Stop starting runs once this much time has passed since the first one started.
    pub time_budget: Option<Duration>,
    /// The base seed of tests that set none.
    pub seed: u64,
}

/// Runs every test's repeats in order and returns one record per planned run.
pub async fn run_all(
    tests: &[SuiteTest],
    opts: &RunOptions,
    shutdown: &Shutdown,
    run_dir_tx: &watch::Sender<Option<PathBuf>>,
) -> Vec<RunRecord> {
    let total: u64 = tests.iter().map(|t| t.repeat).sum();
    let progress = SuiteProgress::new(total);
    let start = Instant::now();
    let mut records = Vec::new();
    for test in tests {
        for run in 0..test.repeat {
            let seed = test.config.seed.unwrap_or(opts.seed).wrapping_add(run);
            if let Some(reason) = stop_reason(start, opts.time_budget, shutdown) {
                records.push(RunRecord::without_results(
                    &test.name,
                    run,
                    seed,
                    RunStatus::NotRun,
                    reason,
                ));
                progress.skip();
                continue;
            }
            progress.start(&test.name, run, test.repeat, seed);
            let record = run_one(test, run, seed, &opts.store, shutdown, run_dir_tx).await;
            progress.finish(&record);
            records.push(record);
        }
    }
    progress.done();
    records
}

/// Why no further run may start, if so.
fn stop_reason(start: Instant, budget: Option<Duration>, shutdown: &Shutdown) -> Option<String> {
    if shutdown.is_triggered() {
        return Some("the suite was interrupted".into());
    }
    match budget {
        Some(b) if start.elapsed() >= b => Some(format!(
            "the time budget of {} s was used up",
            b.as_secs_f64()
        )),
        _ => None,
    }
}

/// One run: validate with its seed, run, write its outputs, keep what the suite needs.
async fn run_one(
    test: &SuiteTest,
    run: u64,
    seed: u64,
    store: &Path,
    shutdown: &Shutdown,
    run_dir_tx: &watch::Sender<Option<PathBuf>>,
) -> RunRecord {
    let mut config = test.config.clone();
    config.name = Some(test.name.clone());
    config.seed = Some(seed);
    config.store = store.to_path_buf();
    let failed = |reason: String| {
        RunRecord::without_results(&test.name, run, seed, RunStatus::Failed, reason)
    };
    let plan = match config.validate() {
        Ok(plan) => plan,
        Err(e) => return failed(format!("{e:#}")),
    };
    run_dir_tx.send_replace(None);
    let started = Instant::now();
    let outcome = runner::run_test(&plan, shutdown.clone(), run_dir_tx).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let mut record = failed(format!("{e:#}"));
            record.run_dir = run_dir_tx.borrow().clone();
            record.duration_ms = duration_ms;
            return record;
        }
    };
    let info = outcome.record.run_info();
    let path = outcome.run_dir.path.clone();
    for w in &outcome.analysis.warnings {
        eprintln!("redline: warning: {w}");
    }
    let (status, reason) = if outcome.interrupted {
        (
            RunStatus::Interrupted,
            Some("interrupted; its history is incomplete".to_string()),
        )
    } else {
        (RunStatus::Checked, None)
    };
    let results = &outcome.analysis.results;
    RunRecord {
        test: test.name.clone(),
        run,
        seed,
        status,
        reason,
        run_dir: Some(path),
        duration_ms,
        expectations: if status == RunStatus::Checked {
            results.expectations.clone()
        } else {
            Vec::new()
        },
        measures: Measures::from_results(results),
        info: Some(info),
    }
}
