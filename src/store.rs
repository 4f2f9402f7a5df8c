//! Run folders: `store/<test>/<time>/` with `test.json`, `history.jsonl`, `telemetry.jsonl`,
//! `results.json`, reports and `nodes/<node>/`; `store/latest` and `store/<test>/latest` point
//! at the newest run, as in Jepsen's store.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub const TEST_JSON: &str = "test.json";
pub const HISTORY: &str = "history.jsonl";
pub const TELEMETRY: &str = "telemetry.jsonl";
pub const RESULTS: &str = "results.json";
/// Every anomaly of a run, one JSON object per line (results.json lists the first few).
pub const ANOMALIES: &str = "anomalies.jsonl";
pub const REPORT_HTML: &str = "report.html";
pub const JUNIT: &str = "junit.xml";

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Claims `store/<name>/<UTC time>` (with a suffix `-2`, `-3`, ... when runs start in the
    /// same second) and points the `latest` links at it.
    ///
    /// The claim is the creation of the folder itself (`mkdir`, which fails when the folder
    /// exists), so two runs starting together, in two processes, never share a folder: the
    /// loser takes the next suffix. `store/<name>` must be a real folder, not a symlink: the
    /// `latest` links are symlinks, and a run named after one would write into the run it
    /// points at.
    pub fn create(store: &Path, name: &str) -> Result<RunDir> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let test_dir = store.join(name);
        let is_link =
            std::fs::symlink_metadata(&test_dir).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            bail!(
                "{} is a symbolic link (a `latest` link?); choose another --name",
                test_dir.display()
            );
        }
        std::fs::create_dir_all(&test_dir)
            .with_context(|| format!("creating the run store {}", test_dir.display()))?;
        let path = claim(&test_dir, &stamp)?;
        let path = path.canonicalize()?;
        point_latest(&store.join("latest"), &path);
        point_latest(&test_dir.join("latest"), &path);
        Ok(RunDir { path })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// Creates the first free folder of `stamp`, `stamp-2`, ... under `test_dir`.
fn claim(test_dir: &Path, stamp: &str) -> Result<PathBuf> {
    for n in 1..=MAX_SAME_SECOND {
        let path = match n {
            1 => test_dir.join(stamp),
            n => test_dir.join(format!("{stamp}-{n}")),
        };
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!(
        "{} already has {MAX_SAME_SECOND} runs started at {stamp}",
        test_dir.display()
    )
}

/// How many runs of one test may start in one second.
const MAX_SAME_SECOND: u32 = 10_000;

/// Replaces a `latest` symlink (best effort: a store on a filesystem without links still works).
fn point_latest(link: &Path, target: &Path) {
    let _ = std::fs::remove_file(link);
    if let Err(e) = std::os::unix::fs::symlink(target, link) {
        tracing::debug!("could not link {}: {e}", link.display());
    }
}

/// Every run folder under `store` (folders holding a `test.json`), newest first.
pub fn list_runs(store: &Path) -> Vec<PathBuf> {
    let mut runs = Vec::new();
    let Ok(tests) = std::fs::read_dir(store) else {
        return runs;
    };
    for test in tests.flatten() {
        let is_dir = test.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir {
            continue; // skips the `latest` symlink
        }
        let Ok(times) = std::fs::read_dir(test.path()) else {
            continue;
        };
        for run in times.flatten() {
            let is_run = run.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_run && run.path().join(TEST_JSON).exists() {
                runs.push(run.path());
            }
        }
    }
    runs.sort_by_key(|p| std::cmp::Reverse(p.file_name().map(|n| n.to_os_string())));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_distinct_folders_and_latest_links() {
        let store = tempfile::tempdir().unwrap();
        let a = RunDir::create(store.path(), "set-none").unwrap();
        let b = RunDir::create(store.path(), "set-none").unwrap();
        assert_ne!(a.path, b.path);
        let latest = std::fs::read_link(store.path().join("latest")).unwrap();
        assert_eq!(latest, b.path);
        std::fs::write(a.file(TEST_JSON), "{}").unwrap();
        std::fs::write(b.file(TEST_JSON), "{}").unwrap();
        assert_eq!(list_runs(store.path()).len(), 2);
    }

    /// Runs started together (same store, same name, same second) each get their own folder.
    /// The folder used to be chosen by "exists?" then created with `create_dir_all`, which
    /// succeeds on a folder another run just made: both runs then shared one.
    #[test]
    fn runs_started_together_never_share_a_folder() {
        let store = tempfile::tempdir().unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, barrier) = (store.path().to_path_buf(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..20)
                        .map(|_| RunDir::create(&store, "race").unwrap().path)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<PathBuf> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let claimed = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), claimed, "two runs were given one folder");
    }

    #[test]
    fn a_test_named_after_the_latest_link_does_not_write_through_it() {
        let store = tempfile::tempdir().unwrap();
        let first = RunDir::create(store.path(), "set-none").unwrap();
        let err = RunDir::create(store.path(), "latest").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let inside: Vec<_> = std::fs::read_dir(&first.path).unwrap().collect();
        assert!(
            inside.is_empty(),
            "the previous run's folder was written into"
        );
    }
}
