//! `redline report RUN_DIR`: re-render a run's outputs from its files alone.

use super::outputs;
use crate::analysis::{self, AnalysisRequest};
use crate::cli::ReportArgs;
use crate::runner::test_json::TestRecord;
use crate::store;
use anyhow::Result;
use redline_checkers::expect::parse_rules;

pub fn run(args: &ReportArgs) -> Result<i32> {
    let record = TestRecord::read(&args.run_dir)?;
    let req = AnalysisRequest {
        workload: redline_workloads::by_name(&record.workload)
            .ok()
            .map(|w| w.model()),
        checkers: Vec::new(),
        expect: parse_rules(&record.config.expect)?,
        reads_from_master: Some(record.config.read_from == "master"),
    };
    let analysis = analysis::analyse_file(&args.run_dir.join(store::HISTORY), &req)?;
    let info = record.run_info();
    outputs::write_all(&args.run_dir, Some(&info), &analysis)?;
    outputs::print(Some(&info), &analysis, false)?;
    eprintln!(
        "redline: wrote {}",
        args.run_dir.join(store::REPORT_HTML).display()
    );
    Ok(analysis.verdict.exit_code())
}
