//! `redline runs` (the table of past runs) and `redline cleanup` (processes a killed run left).
//!
//! Every run folder with a `test.json` is listed. A run that has no results (killed before it
//! was checked, or failed before it had a history) or whose `test.json` has no finish record
//! is shown with an unknown verdict, marked incomplete: never as valid.

use crate::cli::RunsArgs;
use crate::cluster::pids;
use crate::runner::test_json::TestRecord;
use crate::store;
use anyhow::Result;
use redline_checkers::Results;
use redline_reports::RunRow;

pub fn list(args: &RunsArgs) -> Result<i32> {
    let mut rows = Vec::new();
    for dir in store::list_runs(&args.store) {
        let Ok(record) = TestRecord::read(&dir) else {
            continue;
        };
        let results: Option<Results> = std::fs::read_to_string(dir.join(store::RESULTS))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let info = record.run_info();
        let row = match results {
            // Results written before the run's finish record: the run did not end.
            Some(mut results) => {
                let unrecorded: Vec<String> = record
                    .incomplete_parts()
                    .into_iter()
                    .filter(|p| !results.incomplete.contains(p))
                    .collect();
                results.mark_incomplete(unrecorded);
                RunRow::new(&info, &results, client_ops(&results))
            }
            None => RunRow::unchecked(&info),
        };
        rows.push(row);
    }
    if rows.is_empty() {
        println!("no runs under {}", args.store.display());
    } else {
        println!("{}", redline_reports::runs_table(&rows));
    }
    Ok(0)
}

/// Client operations of a checked run, from the availability checker's counts (reading a
/// history of millions of lines again just to count them would make `runs` slow).
fn client_ops(results: &Results) -> u64 {
    let Some(by_f) = results
        .checkers
        .get("availability")
        .and_then(|r| r.stats.get("by_f"))
        .and_then(serde_json::Value::as_object)
    else {
        return 0;
    };
    by_f.values()
        .filter_map(serde_json::Value::as_object)
        .flat_map(|counts| counts.values())
        .filter_map(serde_json::Value::as_u64)
        .sum()
}

pub fn cleanup(args: &RunsArgs) -> Result<i32> {
    // Namespaces first: their servers die with them, then the pid files catch the rest.
    if crate::cluster::netns::unavailable().is_none() {
        let netns = crate::cluster::netns::cleanup_recorded(&args.store)?;
        for removed in &netns.removed {
            println!("removed {removed}");
        }
        for failure in &netns.failures {
            eprintln!("redline: could not remove {failure}");
        }
    }
    // SSH runs: their servers and rules are on the hosts; reconnect and remove them.
    let ssh = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(crate::cluster::ssh::cleanup_recorded(&args.store))?;
    for removed in &ssh.removed {
        println!("removed {removed}");
    }
    for failure in &ssh.failures {
        eprintln!("redline: could not clean up on an SSH host: {failure}");
    }
    let report = pids::cleanup_store(&args.store)?;
    let code = if ssh.failures.is_empty() && report.failures.is_empty() {
        0
    } else {
        2
    };
    for k in &report.killed {
        println!("stopped {k}");
    }
    for m in &report.unmounted {
        println!("unmounted {m}");
    }
    for failure in &report.failures {
        eprintln!("redline: could not clean up: {failure}");
    }
    println!(
        "scanned {} pid file(s) under {}; stopped {} process(es)",
        report.runs_scanned,
        args.store.display(),
        report.killed.len()
    );
    Ok(code)
}
