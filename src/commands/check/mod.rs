//! `redline check HISTORY`: the checkers of a live run, on a stored history (redline's, or
//! Jepsen's, Knossos's and Elle's as they are), read exactly once.
//!
//! - [`source`]: the input, read on a thread with an idle timeout.

pub mod source;

use super::outputs;
use crate::analysis::{self, AnalysisRequest, ModelOptions};
use crate::cli::CheckArgs;
use anyhow::{anyhow, Context, Result};
use redline_checkers::expect::parse_rules;
use redline_checkers::{consistency_model, CheckerName, KeyAssumptions, Model};
use std::str::FromStr;
use std::time::Duration;

pub fn run(args: &CheckArgs) -> Result<i32> {
    let model = args
        .workload
        .as_deref()
        .map(Model::from_str)
        .transpose()
        .map_err(|e| anyhow!("--workload: {e}"))?;
    let checkers = match &args.checkers {
        Some(list) => CheckerName::parse_list(list).map_err(|e| anyhow!("--checkers: {e}"))?,
        None => Vec::new(),
    };
    let expect = parse_rules(&args.expect)?;
    let consistency_models = match &args.consistency_models {
        Some(list) => consistency_model::parse_models(list)
            .map_err(|e| anyhow!("--consistency-models: {e}"))?,
        None => Vec::new(),
    };
    let req = AnalysisRequest {
        workload: model.and_then(Model::workload),
        checkers,
        expect,
        reads_from_master: args.reads_from_master,
    };
    let models = ModelOptions {
        model,
        consistency_models,
        key_assumptions: KeyAssumptions {
            sequential: args.sequential_keys,
            linearizable: args.linearizable_keys,
            writes_follow_reads: args.wfr_keys,
        },
    };
    if !(args.read_timeout > 0.0 && args.read_timeout.is_finite() && args.read_timeout < 1e9) {
        return Err(anyhow!(
            "--read-timeout: {} is not a number of seconds between 0 and 1e9",
            args.read_timeout
        ));
    }
    let idle = Duration::from_secs_f64(args.read_timeout);
    // A regular file can be measured before it is read (a pipe or standard input cannot).
    analysis::memory::ensure_fits(&args.history, analysis::memory::Reader::Once)?;
    let input = source::Source::open(&args.history, idle)
        .with_context(|| format!("reading {}", args.history.display()))?;
    let name = input.name().to_string();
    let analysis = analysis::analyse_input(input, &name, &req, &models)?;
    if analysis.model.is_none() && args.workload.is_none() {
        eprintln!("redline: could not tell the workload from the history; only availability was checked (use --workload)");
    }
    outputs::print(None, &analysis, args.json)?;
    Ok(analysis.verdict.exit_code())
}
