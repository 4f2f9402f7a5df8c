//! `redline check HISTORY.jsonl`: the checkers of a live run, on a stored file.

use super::outputs;
use crate::analysis::{self, AnalysisRequest};
use crate::cli::CheckArgs;
use anyhow::{anyhow, Result};
use redline_checkers::expect::parse_rules;
use redline_checkers::{CheckerName, WorkloadKind};
use std::str::FromStr;

pub fn run(args: &CheckArgs) -> Result<i32> {
    let workload = args
        .workload
        .as_deref()
        .map(WorkloadKind::from_str)
        .transpose()
        .map_err(|e| anyhow!("--workload: {e}"))?;
    let checkers = match &args.checkers {
        Some(list) => CheckerName::parse_list(list).map_err(|e| anyhow!("--checkers: {e}"))?,
        None => Vec::new(),
    };
    let expect = parse_rules(&args.expect)?;
    let req = AnalysisRequest {
        workload,
        checkers,
        expect,
        reads_from_master: args.reads_from_master,
    };
    let analysis = analysis::analyse_file_lean(&args.history, &req)?;
    if analysis.workload.is_none() && args.workload.is_none() {
        eprintln!("redline: could not tell the workload from the history; only availability was checked (use --workload)");
    }
    outputs::print(None, &analysis, args.json)?;
    Ok(analysis.verdict.exit_code())
}
