//! `redline report RUN_DIR`: re-render a run's outputs from its files alone. The run's
//! completeness comes from its `test.json` (a run without a finish record is incomplete), so
//! the re-rendered verdict is the one the run had, never a `valid` the run did not earn.

use super::outputs;
use crate::analysis::{self, AnalysisRequest};
use crate::cli::ReportArgs;
use crate::runner::test_json::TestRecord;
use crate::runner::{completeness, save};
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
    let mut analysis = analysis::analyse_run(&args.run_dir, &req)?;
    completeness::apply(&mut analysis, &record.incomplete_parts());
    let info = record.run_info();
    save::write_outputs(&args.run_dir, Some(&info), &mut analysis)?;
    outputs::print(Some(&info), &analysis, false)?;
    eprintln!(
        "redline: wrote {}",
        args.run_dir.join(store::REPORT_HTML).display()
    );
    Ok(analysis.verdict.exit_code())
}
