//! Analysing a stored history: the same path for a live run (`redline test`), a stored file
//! (`redline check`) and a re-render (`redline report`). The harness only chooses checkers and
//! options; the analysis itself is the checkers crate's.

use anyhow::{Context, Result};
use redline_checkers::expect::{self, Rule, Verdict};
use redline_checkers::history::jsonl;
use redline_checkers::{registry, CheckOptions, CheckerName, History, Results, WorkloadKind};
use std::path::Path;

/// What to check and how.
#[derive(Debug, Clone, Default)]
pub struct AnalysisRequest {
    /// The workload, when known; otherwise detected from the history.
    pub workload: Option<WorkloadKind>,
    /// Checkers to run; empty for the workload's defaults.
    pub checkers: Vec<CheckerName>,
    pub expect: Vec<Rule>,
    /// Whether reads were served by the master (`None`: unknown).
    pub reads_from_master: Option<bool>,
}

/// A checked history.
pub struct Analysis {
    pub history: History,
    pub workload: Option<WorkloadKind>,
    pub results: Results,
    pub verdict: Verdict,
    /// Things tolerated while reading (a truncated final line).
    pub warnings: Vec<String>,
}

/// Reads a history file and checks it.
pub fn analyse_file(path: &Path, req: &AnalysisRequest) -> Result<Analysis> {
    let read = jsonl::read_file(path).with_context(|| format!("reading {}", path.display()))?;
    let mut a = analyse(read.history, req);
    a.warnings = read.warnings;
    Ok(a)
}

/// Checks a history.
pub fn analyse(history: History, req: &AnalysisRequest) -> Analysis {
    let workload = req.workload.or_else(|| WorkloadKind::detect(&history));
    let checkers = if !req.checkers.is_empty() {
        req.checkers.clone()
    } else if let Some(w) = workload {
        CheckerName::defaults_for(w)
    } else {
        vec![CheckerName::Availability]
    };
    let mut opts = CheckOptions {
        reads_from_master: req.reads_from_master,
        ..CheckOptions::default()
    };
    expect::apply_to_options(&req.expect, &mut opts);
    let mut results = registry::run(&checkers, &history, &opts);
    results.expectations = expect::evaluate(&req.expect, &results);
    let verdict = expect::verdict(&results.expectations);
    Analysis {
        history,
        workload,
        results,
        verdict,
        warnings: Vec::new(),
    }
}
