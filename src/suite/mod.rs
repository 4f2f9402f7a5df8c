//! Suites: several tests, each repeated, one verdict (the CI consistency gate), and
//! `redline test --repeat N` (a suite of one test).
//!
//! - [`file`]: the TOML suite file, `[defaults]` + `[[test]]`, every mistake with line and key.
//! - [`run`]: running the tests one after another with derived seeds, time budget, Ctrl-C.
//! - [`record`]: what is kept of each run (status, seed, folder, expectations, measures).
//! - [`summary`]: rules decided over repeated runs, the test verdict, the exit code.
//! - [`stats`]: detection rate with its 95% Wilson interval.
//! - [`table`]: the one final table, configurations side by side.
//! - [`outputs`]: `suite.json` and the combined `junit.xml` in `store/suites/<suite>/<time>/`.
//! - [`progress`]: the bar over runs.
//!
//! Documentation for users: `docs/ci.md`.

pub mod file;
pub mod outputs;
pub mod progress;
pub mod record;
pub mod run;
pub mod stats;
pub mod summary;
pub mod table;

pub use file::{SuiteFile, SuiteFileError, SuiteTest};

use crate::shutdown::{self, Shutdown};
use record::RunRecord;
use run::RunOptions;
use std::time::{Duration, Instant};
use summary::TestSummary;

/// A finished suite.
pub struct SuiteOutcome {
    pub options: RunOptions,
    pub started_at: String,
    pub duration: Duration,
    pub records: Vec<RunRecord>,
    /// One per test, in the suite's order.
    pub summaries: Vec<TestSummary>,
    pub exit_code: i32,
}

/// Runs `tests` (installing the Ctrl-C handler once for all of them), then sums them up.
pub async fn execute(tests: &[SuiteTest], options: RunOptions) -> SuiteOutcome {
    let shutdown = Shutdown::default();
    let (run_dir_tx, run_dir_rx) = tokio::sync::watch::channel(None);
    shutdown::install_signal_handlers(shutdown.clone(), run_dir_rx);
    let started_at = chrono::Utc::now().to_rfc3339();
    let start = Instant::now();
    let records = run::run_all(tests, &options, &shutdown, &run_dir_tx).await;
    let summaries: Vec<TestSummary> = tests
        .iter()
        .map(|t| {
            let runs: Vec<&RunRecord> = records.iter().filter(|r| r.test == t.name).collect();
            summary::summarise(t, &runs)
        })
        .collect();
    let exit_code = summary::exit_code(&summaries);
    SuiteOutcome {
        options,
        started_at,
        duration: start.elapsed(),
        records,
        summaries,
        exit_code,
    }
}

/// A base seed for tests that set none; recorded in `suite.json`, so every run replays.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        % 1_000_000_000
}
