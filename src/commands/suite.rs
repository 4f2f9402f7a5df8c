//! `redline suite FILE` and `redline test --repeat N`: repeated runs, one table, one exit code
//! (0 every test held; 1 a test broke its expectations; 2 a test could not run or decide, a
//! run was not started for lack of time budget, or the suite file is wrong).

use crate::cli::{SuiteArgs, TestArgs};
use crate::config::limits;
use crate::store::RunDir;
use crate::suite::{self, file, outputs, run::RunOptions, SuiteOutcome, SuiteTest};
use anyhow::{bail, Result};
use std::time::Duration;

/// Thirty days: the longest `--time-budget` (a longer one would overflow no clock, but no CI
/// waits that long).
const MAX_TIME_BUDGET_S: f64 = 30.0 * 24.0 * 3600.0;

/// `redline suite`.
pub async fn run(args: &SuiteArgs) -> Result<i32> {
    let suite_file = match file::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("redline: error: {e}");
            return Ok(2);
        }
    };
    let tests = select(&suite_file.tests, &args.only)?;
    let time_budget = match args.time_budget {
        Some(s) => {
            limits::seconds("--time-budget", s, MAX_TIME_BUDGET_S)?;
            Some(Duration::from_secs_f64(s))
        }
        None => None,
    };
    let options = RunOptions {
        store: args.store.clone(),
        time_budget,
        seed: args.seed.unwrap_or_else(suite::clock_seed),
    };
    let suite_dir = RunDir::create(&args.store.join("suites"), &suite_file.name)?;
    let runs: u64 = tests.iter().map(|t| t.repeat).sum();
    eprintln!(
        "redline: suite {} ({} test(s), {runs} run(s), base seed {}) from {}",
        suite_file.name,
        tests.len(),
        options.seed,
        args.file.display()
    );
    let outcome = suite::execute(&tests, options).await;
    outputs::write(&suite_dir.path, &suite_file.name, &args.file, &outcome)?;
    print(
        &outcome,
        args.json,
        &suite_dir.path.join(outputs::SUITE_JSON),
    )?;
    eprintln!(
        "redline: suite folder {} ({:.0} s)",
        suite_dir.path.display(),
        outcome.duration.as_secs_f64()
    );
    Ok(outcome.exit_code)
}

/// `redline test --repeat N`: a suite of one test, without a suite folder.
pub async fn run_repeated(args: &TestArgs) -> Result<i32> {
    if args.repeat == 0 || args.repeat > file::MAX_REPEAT {
        bail!(
            "--repeat must be between 1 and {}, not {}",
            file::MAX_REPEAT,
            args.repeat
        );
    }
    let plan = args.config.validate()?;
    let test = SuiteTest {
        name: plan.name.clone(),
        repeat: args.repeat,
        config: args.config.clone(),
        line: 0,
    };
    let options = RunOptions {
        store: args.config.store.clone(),
        time_budget: None,
        seed: plan.seed,
    };
    eprintln!(
        "redline: {} x{} (workload {}, nemesis {}, seeds {}..={})",
        plan.name,
        args.repeat,
        plan.workload.name(),
        plan.nemesis,
        plan.seed,
        plan.seed.wrapping_add(args.repeat - 1)
    );
    let outcome = suite::execute(&[test], options).await;
    if args.json {
        let text = serde_json::json!({
            "tests": outcome.summaries,
            "runs": outcome.records,
            "exit_code": outcome.exit_code,
        });
        println!("{}", serde_json::to_string_pretty(&text)?);
    } else {
        println!("{}", suite::table::render(&outcome.summaries));
    }
    Ok(outcome.exit_code)
}

/// The tests named by `--only` (all when none is named); an unknown name is an error.
fn select(tests: &[SuiteTest], only: &[String]) -> Result<Vec<SuiteTest>> {
    if only.is_empty() {
        return Ok(tests.to_vec());
    }
    for name in only {
        if !tests.iter().any(|t| &t.name == name) {
            let names: Vec<&str> = tests.iter().map(|t| t.name.as_str()).collect();
            bail!(
                "--only {name:?}: no such test in the suite (tests: {})",
                names.join(", ")
            );
        }
    }
    Ok(tests
        .iter()
        .filter(|t| only.contains(&t.name))
        .cloned()
        .collect())
}

fn print(outcome: &SuiteOutcome, json: bool, suite_json: &std::path::Path) -> Result<()> {
    if json {
        println!("{}", std::fs::read_to_string(suite_json)?);
    } else {
        println!("{}", suite::table::render(&outcome.summaries));
    }
    Ok(())
}
