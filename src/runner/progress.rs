//! The progress line while a run goes: elapsed time, operations by outcome, faults in force.
//! On a terminal it redraws in place (indicatif); elsewhere (CI logs) it prints a plain line
//! every five seconds.

use super::clients::Counters;
use super::tasks::Background;
use crate::nemesis::driver::ActiveFaults;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

/// A running progress display; it stops and clears when dropped (or at [`Progress::finish`]).
pub struct Progress {
    bar: ProgressBar,
    task: AbortHandle,
}

impl Progress {
    /// Stops the display and clears the line.
    pub fn finish(self) {
        drop(self);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

/// Starts the display in a task of `background`.
pub fn spawn(
    background: &mut Background,
    time_limit_s: f64,
    counters: Arc<Counters>,
    active: ActiveFaults,
) -> Progress {
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let start = Instant::now();
    let b = bar.clone();
    let task = background.spawn(async move {
        let mut last_plain = Instant::now();
        loop {
            let faults = active.lock().map(|a| a.join(", ")).unwrap_or_default();
            let line = format!(
                "{:5.1}s/{:.0}s  ops {} (ok {}, fail {}, info {})  faults: {}",
                start.elapsed().as_secs_f64(),
                time_limit_s,
                counters.total(),
                counters.ok.load(Ordering::Relaxed),
                counters.fail.load(Ordering::Relaxed),
                counters.info.load(Ordering::Relaxed),
                if faults.is_empty() { "none" } else { &faults },
            );
            if tty {
                b.set_message(line);
                b.tick();
            } else if last_plain.elapsed() >= Duration::from_secs(5) {
                eprintln!("redline: {line}");
                last_plain = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Progress { bar, task }
}
