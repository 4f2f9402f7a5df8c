//! One function per subcommand; each returns the process exit code (0, 1 or 2).
//!
//! - [`test`]: `redline test`, a live run and its outputs.
//! - [`check`]: `redline check`, analysis of a stored history.
//! - [`report`]: `redline report`, re-rendering a run folder.
//! - [`runs`]: `redline runs` and `redline cleanup`.
//! - [`servers`]: `redline servers`, the server binaries found and what each supports.
//! - [`suite`]: `redline suite` and `redline test --repeat N`.
//! - [`outputs`]: writing results.json, report.html, junit.xml and the summary table.

pub mod check;
pub mod outputs;
pub mod report;
pub mod runs;
pub mod servers;
pub mod suite;
pub mod test;
