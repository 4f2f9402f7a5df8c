//! `redline test`: one live run, its outputs, and an exit code from its expectations.

use super::outputs;
use crate::cli::TestArgs;
use crate::runner;
use crate::shutdown::{self, Shutdown};
use anyhow::Result;

pub async fn run(args: &TestArgs) -> Result<i32> {
    if args.repeat != 1 {
        return super::suite::run_repeated(args).await;
    }
    let plan = args.config.validate()?;
    let shutdown = Shutdown::default();
    let (run_dir_tx, run_dir_rx) = tokio::sync::watch::channel(None);
    shutdown::install_signal_handlers(shutdown.clone(), run_dir_rx);
    eprintln!(
        "redline: {} (workload {}, nemesis {}, {} replica(s), {} Sentinel(s), {} s, seed {})",
        plan.name,
        plan.workload.name(),
        plan.nemesis,
        plan.config.replicas,
        plan.config.sentinels,
        plan.config.time_limit,
        plan.seed
    );
    let outcome = runner::run_test(&plan, shutdown, &run_dir_tx).await?;
    let info = outcome.record.run_info();
    outputs::print(Some(&info), &outcome.analysis, args.json)?;
    eprintln!("redline: run folder {}", outcome.run_dir.path.display());
    eprintln!(
        "redline: report {}",
        outcome.run_dir.file(crate::store::REPORT_HTML).display()
    );
    for part in &outcome.analysis.results.incomplete {
        eprintln!("redline: incomplete: {part}");
    }
    if outcome.interrupted {
        eprintln!(
            "redline: the run was interrupted; its history is checkable but incomplete (exit 2)"
        );
        return Ok(2);
    }
    Ok(outcome.analysis.verdict.exit_code())
}
