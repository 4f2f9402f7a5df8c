//! Showing a checked run on the terminal: the summary table (or results.json on stdout with
//! `--json`) and the warnings met while reading its history.

use crate::analysis::Analysis;
use anyhow::Result;
use redline_reports::RunInfo;

/// Prints the summary table (or results.json with `json`) to stdout and warnings to stderr.
pub fn print(info: Option<&RunInfo>, analysis: &Analysis, json: bool) -> Result<()> {
    for w in &analysis.warnings {
        eprintln!("redline: warning: {w}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&analysis.results)?);
    } else {
        println!(
            "{}",
            redline_reports::summary_table(info, &analysis.history, &analysis.results)
        );
    }
    Ok(())
}
