//! Progress over a suite's runs. Each run prints a header line when it starts and a result
//! line when it ends (so a CI log reads as a list); on a terminal an indicatif bar over the
//! runs sits under those lines between runs. During a run the bar is hidden and the runner's own
//! progress line has the terminal: two bars that do not know each other would overwrite each
//! other's line.

use super::record::{RunRecord, RunStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// The bar over the suite's runs.
pub struct SuiteProgress {
    bar: ProgressBar,
    tty: bool,
    total: u64,
}

impl SuiteProgress {
    pub fn new(total_runs: u64) -> SuiteProgress {
        let tty = std::io::stderr().is_terminal();
        let bar = if tty {
            ProgressBar::new(total_runs)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} runs, {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        SuiteProgress {
            bar,
            tty,
            total: total_runs,
        }
    }

    /// Announces a run and gives the terminal to the runner's progress line.
    pub fn start(&self, test: &str, run: u64, repeat: u64, seed: u64) {
        self.line(format!(
            "redline: suite run {}/{}: {test} (run {} of {repeat}, seed {seed})",
            self.bar.position() + 1,
            self.total,
            run + 1
        ));
        if self.tty {
            self.bar.set_draw_target(ProgressDrawTarget::hidden());
        }
    }

    /// Reports how a run ended and shows the bar again.
    pub fn finish(&self, record: &RunRecord) {
        if self.tty {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.line(format!("redline:   {}", outcome_line(record)));
        self.bar.inc(1);
    }

    /// Counts a run that was not started.
    pub fn skip(&self) {
        self.bar.inc(1);
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }

    fn line(&self, text: String) {
        if self.tty {
            self.bar.println(text);
        } else {
            eprintln!("{text}");
        }
    }
}

/// `held: no-lost-writes (lost = 0 ...)`, `failed: ...`, with the run folder.
fn outcome_line(r: &RunRecord) -> String {
    let folder = r
        .run_dir
        .as_ref()
        .map(|d| format!(" [{}]", d.display()))
        .unwrap_or_default();
    let took = format!("{:.1} s", r.duration_ms as f64 / 1000.0);
    match r.status {
        RunStatus::Checked => {
            let rules: Vec<String> = r
                .expectations
                .iter()
                .map(|e| {
                    let label = redline_reports::verdict::expectation_label(e.held);
                    format!("{} {label}", e.rule)
                })
                .collect();
            format!("{} ({took}){folder}", rules.join(", "))
        }
        RunStatus::Failed => format!(
            "could not run: {} ({took}){folder}",
            r.reason.as_deref().unwrap_or("")
        ),
        RunStatus::Interrupted => format!("interrupted ({took}){folder}"),
        RunStatus::NotRun => format!("not run: {}", r.reason.as_deref().unwrap_or("")),
    }
}
