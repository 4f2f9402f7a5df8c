//! What a suite keeps of each run: how it ended, its seed and folder, each expectation's
//! outcome, and the few measures the comparison table reads (docs/design.md section 5 and
//! docs/results.md name them). The full results stay in the run's own `results.json`.

use redline_checkers::names::stat;
use redline_checkers::CheckerName::{self, *};
use redline_checkers::{ExpectationOutcome, Results};
use redline_reports::RunInfo;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How one run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Ran to the end and was checked; its expectations are in the record.
    Checked,
    /// Could not run: setup failed, the run failed, or its outputs could not be written.
    Failed,
    /// Cut short by Ctrl-C; its history is partial and its verdict is not counted.
    Interrupted,
    /// Never started (time budget exceeded, or the suite was interrupted before it).
    NotRun,
}

/// One run of one test.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub test: String,
    /// 0-based run number within the test.
    pub run: u64,
    pub seed: u64,
    pub status: RunStatus,
    /// Why it failed or did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
    pub duration_ms: u64,
    /// Each rule's outcome in this run (empty unless `Checked`).
    pub expectations: Vec<ExpectationOutcome>,
    pub measures: Measures,
    /// For the combined junit.xml; not written to suite.json (test.json has it).
    #[serde(skip)]
    pub info: Option<RunInfo>,
}

impl RunRecord {
    /// A run that never got as far as being checked.
    pub fn without_results(
        test: &str,
        run: u64,
        seed: u64,
        status: RunStatus,
        reason: String,
    ) -> RunRecord {
        RunRecord {
            test: test.to_string(),
            run,
            seed,
            status,
            reason: Some(reason),
            run_dir: None,
            duration_ms: 0,
            expectations: Vec::new(),
            measures: Measures::default(),
            info: None,
        }
    }

    pub fn checked(&self) -> bool {
        self.status == RunStatus::Checked
    }
}

/// The figures configurations are compared by; `None` when the checker did not measure it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measures {
    /// Acknowledged writes lost (`lost-writes.stats.lost`, else `wait.stats.lost`).
    pub lost: Option<u64>,
    /// `stale-reads.stats.reads` and `.stale`.
    pub reads: Option<u64>,
    pub stale: Option<u64>,
    /// `stale-reads.stats.staleness_ms_p99`.
    pub staleness_ms_p99: Option<f64>,
    /// `availability.stats.unavailability.total_ms`.
    pub unavailable_ms: Option<f64>,
    /// `availability.stats.failover_ms_max`: the slowest change of master after a fault.
    pub failover_ms_max: Option<f64>,
    /// `wait.stats.lost_by_acked`: lost writes by how many replicas WAIT said had them.
    pub lost_by_acked: BTreeMap<String, u64>,
    /// Anomalies by kind over every checker.
    pub anomalies: BTreeMap<String, u64>,
    /// `availability.stats.keys` (or txn-cycles', for transactions): how many keys the run's
    /// operations used (workloads move on to fresh keys as they fill).
    pub keys: Option<u64>,
}

impl Measures {
    /// Picks the measures out of a run's results.
    pub fn from_results(results: &Results) -> Measures {
        let stat_of = |checker: CheckerName, name: &str| -> Option<&Value> {
            let r = results.checkers.get(checker.as_str())?;
            if r.skipped.is_some() {
                return None;
            }
            r.stats.get(name)
        };
        let count = |checker, name| stat_of(checker, name).and_then(Value::as_u64);
        let mut anomalies = BTreeMap::new();
        for r in results.checkers.values() {
            for (kind, n) in r.counts_by_kind() {
                *anomalies.entry(kind).or_insert(0) += n as u64;
            }
        }
        let lost_by_acked = stat_of(Wait, stat::LOST_BY_ACKED)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Measures {
            lost: count(LostWrites, stat::LOST).or_else(|| count(Wait, stat::LOST)),
            reads: count(StaleReads, stat::READS),
            stale: count(StaleReads, stat::STALE),
            staleness_ms_p99: stat_of(StaleReads, stat::STALENESS_MS_P99).and_then(Value::as_f64),
            unavailable_ms: stat_of(Availability, stat::UNAVAILABILITY)
                .and_then(|u| u.get("total_ms"))
                .and_then(Value::as_f64)
                .map(|ms| ms.max(0.0)),
            failover_ms_max: stat_of(Availability, stat::FAILOVER_MS_MAX).and_then(Value::as_f64),
            lost_by_acked,
            anomalies,
            keys: count(Availability, stat::KEYS).or_else(|| count(TxnCycles, stat::KEYS)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::{Anomaly, CheckResult};
    use serde_json::json;

    #[test]
    fn measures_come_from_the_documented_stats() {
        let mut checkers = BTreeMap::new();
        let lost = Anomaly::new("lost", vec![1], "x".into());
        let stats = json!({"lost": 2, "acknowledged": 10}).as_object().cloned();
        checkers.insert(
            "lost-writes".to_string(),
            CheckResult::from_anomalies(vec![lost.clone(), lost], stats.unwrap_or_default()),
        );
        let stats = json!({"reads": 40, "stale": 4, "staleness_ms_p99": 12.5});
        checkers.insert(
            "stale-reads".to_string(),
            CheckResult::from_anomalies(vec![], stats.as_object().cloned().unwrap_or_default()),
        );
        let stats = json!({"unavailability": {"total_ms": -0.0, "windows": 0}, "keys": 37});
        checkers.insert(
            "availability".to_string(),
            CheckResult::from_anomalies(vec![], stats.as_object().cloned().unwrap_or_default()),
        );
        let stats = json!({"lost": 1, "lost_by_acked": {"0": 1}});
        checkers.insert(
            "wait".to_string(),
            CheckResult::from_anomalies(vec![], stats.as_object().cloned().unwrap_or_default()),
        );
        let m = Measures::from_results(&Results::new(checkers));
        assert_eq!(m.lost, Some(2), "lost-writes wins over wait");
        assert_eq!((m.reads, m.stale), (Some(40), Some(4)));
        assert_eq!(m.staleness_ms_p99, Some(12.5));
        assert_eq!(m.unavailable_ms, Some(0.0));
        assert_eq!(m.lost_by_acked.get("0"), Some(&1));
        assert_eq!(m.anomalies.get("lost"), Some(&2));
        assert_eq!(m.keys, Some(37));
    }
}
