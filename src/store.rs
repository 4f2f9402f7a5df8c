//! Run folders: `store/<test>/<time>/` with `test.json`, `history.jsonl`, `telemetry.jsonl`,
//! `results.json`, reports and `nodes/<node>/`; `store/latest` and `store/<test>/latest` point
//! at the newest run, as in Jepsen's store.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub const TEST_JSON: &str = "test.json";
pub const HISTORY: &str = "history.jsonl";
pub const TELEMETRY: &str = "telemetry.jsonl";
pub const RESULTS: &str = "results.json";
pub const REPORT_HTML: &str = "report.html";
pub const JUNIT: &str = "junit.xml";

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `store/<name>/<UTC time>` (with a suffix if two runs start in the same second)
    /// and points the `latest` links at it.
    pub fn create(store: &Path, name: &str) -> Result<RunDir> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let test_dir = store.join(name);
        std::fs::create_dir_all(&test_dir)
            .with_context(|| format!("creating the run store {}", test_dir.display()))?;
        let mut path = test_dir.join(&stamp);
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = test_dir.join(format!("{stamp}-{n}"));
        }
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        let path = path.canonicalize()?;
        point_latest(&store.join("latest"), &path);
        point_latest(&test_dir.join("latest"), &path);
        Ok(RunDir { path })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

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
}
