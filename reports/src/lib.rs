//! redline-reports: how results reach people and CI systems.
//!
//! - [`run_info`]: what `test.json` says about a run (name, seed, command, server, layout).
//! - [`table`]: terminal tables (tabled): the summary after a run, `redline runs`.
//! - [`junit`]: `junit.xml`, one testsuite per run, one testcase per checker and expectation.
//! - [`html`]: the self-contained `report.html`: verdicts, anomalies with their witness ops,
//!   SVG charts (plotters) with fault intervals shaded, and a timeline that scales to 10^6 ops.
//! - [`verdict`]: the words every output uses for verdicts.
//! - [`counts`]: operation counts by function and outcome.
//! - [`error`]: the `ReportError` every fallible function returns.
//!
//! The schema of `results.json` itself is `redline_checkers::Results`, documented in
//! `docs/results.md`; this crate only reads it.

pub mod counts;
pub mod error;
pub mod html;
pub mod junit;
pub mod run_info;
pub mod table;
pub mod verdict;

pub use error::ReportError;
pub use html::render_html;
pub use junit::junit_xml;
pub use run_info::{NodeInfo, RunInfo, ServerInfo};
pub use table::{runs_table, summary_table, RunRow};
