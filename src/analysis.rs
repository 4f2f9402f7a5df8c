//! Analysing a stored history: the same path for a live run (`redline test`), a stored file
//! (`redline check`) and a re-render (`redline report`). The harness only chooses checkers and
//! options; the analysis itself is the checkers crate's.
//!
//! `redline check` on a list-append history takes a lean path ([`analyse_file_lean`]): a
//! million transactions held as a `History` with their micro-ops are gigabytes, so txn-cycles
//! reads the file straight into its compact form, and the other checkers get a `History`
//! whose txn records carry only what they read. Results are the same as [`analyse_file`]'s.

use anyhow::{Context, Result};
use redline_checkers::expect::{self, Rule, Verdict};
use redline_checkers::history::{jsonl, HistoryError};
use redline_checkers::txn_cycles::{self, stream};
use redline_checkers::{
    registry, CheckOptions, CheckResult, CheckerName, Function, History, Op, OpType, Results,
    WorkloadKind,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// What to check and how.
#[derive(Debug, Clone, Default)]
pub struct AnalysisRequest {
    /// The workload, when known; otherwise detected from the history.
    pub workload: Option<WorkloadKind>,
    /// Checkers to run; empty for the workload's defaults.
    pub checkers: Vec<CheckerName>,
    pub expect: Vec<Rule>,
    /// Whether reads were served by the master (`None`: unknown).
    pub reads_from_master: Option<bool>,
}

/// A checked history.
pub struct Analysis {
    pub history: History,
    pub workload: Option<WorkloadKind>,
    pub results: Results,
    pub verdict: Verdict,
    /// Things tolerated while reading (a truncated final line).
    pub warnings: Vec<String>,
}

/// Reads a history file and checks it.
pub fn analyse_file(path: &Path, req: &AnalysisRequest) -> Result<Analysis> {
    let read = jsonl::read_file(path).with_context(|| format!("reading {}", path.display()))?;
    let mut a = analyse(read.history, req);
    a.warnings = read.warnings;
    Ok(a)
}

/// Like [`analyse_file`], with the same results, but a list-append history is never held whole
/// (see the module doc): txn-cycles checks what [`stream::read_file`] read, and the other
/// checkers and [`Analysis::history`] see the history with each txn invocation's micro-ops cut
/// to its first append (split-brain asks only whether it appended) and txn completions'
/// values dropped. For `redline check`, which prints a summary and no report.
pub fn analyse_file_lean(path: &Path, req: &AnalysisRequest) -> Result<Analysis> {
    let workload = req.workload.or_else(|| peek_workload(path));
    if workload != Some(WorkloadKind::ListAppend) {
        return analyse_file(path, req);
    }
    let context = || format!("reading {}", path.display());
    let streamed = stream::read_file(path).with_context(context)?;
    let opts = options(req);
    let mut done = BTreeMap::new();
    if checkers_for(req, workload).contains(&CheckerName::TxnCycles) {
        let result = txn_cycles::check_txns(streamed.txns, &opts);
        done.insert(CheckerName::TxnCycles, result);
    }
    let history = read_lean(path, streamed.records).with_context(context)?;
    let mut a = analyse_with(history, req, done);
    a.warnings = streamed.warnings;
    Ok(a)
}

/// The workload of the file's first records (up to 2,000 lines), when they tell.
fn peek_workload(path: &Path) -> Option<WorkloadKind> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    for line in std::io::BufReader::new(file).lines().take(2000) {
        text.push_str(&line.ok()?);
        text.push('\n');
    }
    WorkloadKind::detect(&jsonl::read_str(&text).ok()?.history)
}

/// The history with txn micro-ops cut down as [`analyse_file_lean`] says.
fn read_lean(path: &Path, records: usize) -> Result<History, HistoryError> {
    let file = std::fs::File::open(path)?;
    let mut ops: Vec<Op> = Vec::with_capacity(records);
    jsonl::read_each(
        std::io::BufReader::with_capacity(1 << 20, file),
        |mut op| {
            if op.f == Function::Txn && op.is_client() {
                op.value = if op.op_type == OpType::Invoke {
                    let first_append = op.value.as_array_mut().and_then(|mops| {
                        let i = mops
                            .iter()
                            .position(|m| m.get(0).and_then(Value::as_str) == Some("append"))?;
                        Some(mops.swap_remove(i))
                    });
                    Value::Array(first_append.into_iter().collect())
                } else {
                    Value::Null
                };
            }
            ops.push(op);
        },
    )?;
    History::new(ops)
}

/// Checks a history.
pub fn analyse(history: History, req: &AnalysisRequest) -> Analysis {
    analyse_with(history, req, BTreeMap::new())
}

/// The checkers a request asks for.
fn checkers_for(req: &AnalysisRequest, workload: Option<WorkloadKind>) -> Vec<CheckerName> {
    if !req.checkers.is_empty() {
        req.checkers.clone()
    } else if let Some(w) = workload {
        CheckerName::defaults_for(w)
    } else {
        vec![CheckerName::Availability]
    }
}

fn options(req: &AnalysisRequest) -> CheckOptions {
    let mut opts = CheckOptions {
        reads_from_master: req.reads_from_master,
        ..CheckOptions::default()
    };
    expect::apply_to_options(&req.expect, &mut opts);
    opts
}

/// Checks a history; checkers in `done` already ran (on another form of the same history).
fn analyse_with(
    history: History,
    req: &AnalysisRequest,
    done: BTreeMap<CheckerName, CheckResult>,
) -> Analysis {
    let workload = req.workload.or_else(|| WorkloadKind::detect(&history));
    let checkers = checkers_for(req, workload);
    let opts = options(req);
    let mut results = Results::new(
        checkers
            .iter()
            .map(|&n| {
                let r = done
                    .get(&n)
                    .cloned()
                    .unwrap_or_else(|| registry::run_one(n, &history, &opts));
                (n.as_str().to_string(), r)
            })
            .collect(),
    );
    results.expectations = expect::evaluate(&req.expect, &results);
    let verdict = expect::verdict(&results.expectations);
    Analysis {
        history,
        workload,
        results,
        verdict,
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    /// A list-append history with nodes, a change of master, a fault, failed, indeterminate
    /// and read-only transactions, and a read-skew anomaly.
    fn history_text() -> String {
        let mut lines = vec![
            json!({"process": "observer", "type": "info", "f": "topology",
                                    "value": {"master": "n1", "replicas": ["n2"]}}),
        ];
        let mut time = 0u64;
        for i in 0..60u64 {
            let p = i % 3;
            let node = if i < 30 { "n1" } else { "n2" };
            let (inv, done) = if i % 4 == 3 {
                (json!([["r", i % 5, null]]), json!([["r", i % 5, []]]))
            } else {
                (
                    json!([["r", i % 5, null], ["append", i % 5, i]]),
                    json!([["r", i % 5, []], ["append", i % 5, i]]),
                )
            };
            let ty = ["ok", "ok", "ok", "fail", "info"][(i % 5) as usize];
            time += 1_000_000;
            lines.push(
                json!({"process": p + 10 * i, "type": "invoke", "f": "txn", "time": time,
                              "node": node, "value": inv}),
            );
            time += 1_000_000;
            lines.push(
                json!({"process": p + 10 * i, "type": ty, "f": "txn", "time": time,
                              "node": node, "value": done}),
            );
            if i == 30 {
                lines.push(json!({"process": "nemesis", "type": "info", "f": "promote",
                                  "time": time, "value": {"node": "n2", "old_master": "n1"}}));
            }
        }
        let mut text = String::new();
        for (index, mut l) in lines.into_iter().enumerate() {
            l["index"] = json!(index);
            if l.get("time").is_none() {
                l["time"] = json!(0);
            }
            text.push_str(&format!("{l}\n"));
        }
        text
    }

    #[test]
    fn the_lean_path_gives_the_same_results() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(history_text().as_bytes()).unwrap();
        for checkers in [
            vec![],
            vec![CheckerName::SplitBrain, CheckerName::TxnCycles],
        ] {
            let req = AnalysisRequest {
                checkers,
                ..AnalysisRequest::default()
            };
            let full = analyse_file(file.path(), &req).unwrap();
            let lean = analyse_file_lean(file.path(), &req).unwrap();
            assert_eq!(lean.workload, Some(WorkloadKind::ListAppend));
            assert_eq!(
                serde_json::to_string_pretty(&full.results).unwrap(),
                serde_json::to_string_pretty(&lean.results).unwrap()
            );
            assert_eq!(full.history.len(), lean.history.len());
            assert!(full.results.checkers.contains_key("txn-cycles"));
        }
    }

    #[test]
    fn other_histories_take_the_ordinary_path() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let text = "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":1}\n\
                    {\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"value\":1}\n";
        file.write_all(text.as_bytes()).unwrap();
        let lean = analyse_file_lean(file.path(), &AnalysisRequest::default()).unwrap();
        assert_eq!(lean.workload, Some(WorkloadKind::Set));
        assert_eq!(lean.history.ops()[1].value, json!(1));
    }
}
