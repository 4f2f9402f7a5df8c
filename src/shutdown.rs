//! Shutdown as a value: a token every task can watch, triggered by SIGINT or SIGTERM (or by the
//! run itself), so the runner heals, tears down and keeps the history on every exit path.
//! A second signal means "now": the run's processes are killed from its pid file and redline
//! exits at once.

use std::path::PathBuf;
use tokio::sync::watch;
use tokio::time::Instant;

/// A cloneable shutdown token.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: std::sync::Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            tx: std::sync::Arc::new(tx),
            rx,
        }
    }
}

impl Shutdown {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown is triggered.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Sleeps until `deadline`; `false` if shutdown came first.
    pub async fn sleep_until(&self, deadline: Instant) -> bool {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => !self.is_triggered(),
            _ = self.wait() => false,
        }
    }
}

/// Turns SIGINT and SIGTERM into `shutdown`. On the second signal the processes listed in the
/// pid file under `run_dir` (once known) are killed and the process exits with status 2.
pub fn install_signal_handlers(shutdown: Shutdown, run_dir: watch::Receiver<Option<PathBuf>>) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("could not install signal handlers");
            return;
        };
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            seen += 1;
            if seen == 1 {
                eprintln!("\nredline: interrupted; healing faults and stopping the cluster (signal again to kill at once)");
                shutdown.trigger();
            } else {
                let dir = run_dir.borrow().clone();
                if let Some(dir) = dir {
                    if crate::cluster::netns::unavailable().is_none() {
                        let _ = crate::cluster::netns::cleanup_recorded(&dir);
                    }
                    let _ = crate::cluster::pids::cleanup_store(&dir);
                    // SSH hosts: stop the run's servers and lift its rules there, in bounded time.
                    if dir.join(crate::cluster::ssh::SSH_FILE).exists() {
                        let cleaned = tokio::time::timeout(
                            std::time::Duration::from_secs(30),
                            crate::cluster::ssh::cleanup_recorded(&dir),
                        )
                        .await;
                        if !matches!(cleaned, Ok(Ok(ref r)) if r.failures.is_empty()) {
                            eprintln!(
                                "redline: could not clean up every SSH host; run: redline cleanup --store {}",
                                dir.display()
                            );
                        }
                    }
                }
                eprintln!("redline: killed the run's processes; exiting");
                std::process::exit(2);
            }
        }
    });
}
