//! Analysing a stored history: the same path for a live run (`redline test`), a stored file
//! (`redline check`) and a re-render (`redline report`). The harness only chooses checkers and
//! options; the analysis itself is the checkers crate's.
//!
//! `redline check` reads its input exactly once ([`analyse_input`]), whatever it is (a file, a
//! pipe, a FIFO), in any format the checkers crate detects, in the small form [`read_once`]
//! describes. Results are the same as [`analyse_file`]'s.
//!
//! - [`read_once`]: the single read, transactions compact, the rest as records.
//! - [`memory`]: whether a large history's analysis fits in this machine's memory, told before
//!   it starts.
//!
//! A run folder ([`analyse_run`]) also has `telemetry.jsonl`. The harness reads it here and
//! hands its samples to the checkers as data ([`CheckOptions::telemetry`]), rather than the
//! checkers opening files (they do no I/O) or the samples being merged into the history (they
//! are not client, nemesis or master-change records, would renumber every witness index, and a
//! bare history has none). Telemetry only adds evidence to explanations: `redline check` on a
//! history alone decides exactly the same verdicts and rules.

pub mod memory;
pub mod read_once;

use crate::store;
use anyhow::{Context, Result};
use read_once::read_once;
use redline_checkers::expect::{self, Rule, Verdict};
use redline_checkers::history::input::Limits;
use redline_checkers::history::jsonl;
use redline_checkers::telemetry::Telemetry;
use redline_checkers::txn_cycles;
use redline_checkers::{
    registry, rw_register, CheckOptions, CheckResult, CheckerName, History, KeyAssumptions, Model,
    Op, Results, WorkloadKind,
};
use std::collections::BTreeMap;
use std::io::Read;
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

/// What `redline check` adds for foreign histories: the models transactional checkers judge
/// against and rw-register's key assumptions.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    /// `--workload` of `redline check`, which may name a model redline has no workload for.
    pub model: Option<Model>,
    /// `--consistency-models`; empty for the default (strict-serializable).
    pub consistency_models: Vec<String>,
    /// rw-register's `--sequential-keys`, `--linearizable-keys`, `--wfr-keys`.
    pub key_assumptions: KeyAssumptions,
}

/// A checked history.
pub struct Analysis {
    pub history: History,
    /// The workload, when the model is one of redline's.
    pub workload: Option<WorkloadKind>,
    /// The model checked against (a workload, or Elle's rw-register), when known.
    pub model: Option<Model>,
    pub results: Results,
    pub verdict: Verdict,
    /// Things tolerated while reading (a truncated final line).
    pub warnings: Vec<String>,
    /// The run's telemetry records (empty for a bare history), for the report's charts.
    pub telemetry: Vec<Op>,
}

/// Reads a history file and checks it.
pub fn analyse_file(path: &Path, req: &AnalysisRequest) -> Result<Analysis> {
    memory::ensure_fits(path, memory::Reader::Records)?;
    let read = jsonl::read_file(path).with_context(|| format!("reading {}", path.display()))?;
    let mut a = analyse(read.history, req);
    a.warnings = read.warnings;
    Ok(a)
}

/// Reads a run folder's history and telemetry and checks them (`redline test`, `redline
/// report`); the telemetry's samples reach the checkers as evidence (see the module doc).
pub fn analyse_run(run_dir: &Path, req: &AnalysisRequest) -> Result<Analysis> {
    let path = run_dir.join(store::HISTORY);
    memory::ensure_fits(&path, memory::Reader::Records)?;
    let read = jsonl::read_file(&path).with_context(|| format!("reading {}", path.display()))?;
    let telemetry = read_telemetry(&run_dir.join(store::TELEMETRY));
    let model = req
        .workload
        .map(Model::Workload)
        .or_else(|| Model::detect(&read.history, None));
    let mut a = analyse_with(
        read.history,
        req,
        model,
        &ModelOptions::default(),
        BTreeMap::new(),
        Telemetry::from_records(&telemetry),
    );
    a.warnings = read.warnings;
    a.telemetry = telemetry;
    Ok(a)
}

/// Telemetry records, if the run has any (a missing or unreadable file just means none: the
/// telemetry is evidence, never needed for a verdict).
pub fn read_telemetry(path: &Path) -> Vec<Op> {
    match jsonl::read_file(path) {
        Ok(read) => read.history.ops().to_vec(),
        Err(e) => {
            if path.exists() {
                tracing::warn!("ignoring {}: {e}", path.display());
            }
            Vec::new()
        }
    }
}

/// Reads a history from `input` exactly once and checks it (see the module doc). `source`
/// names the input in errors.
pub fn analyse_input(
    input: impl Read,
    source: &str,
    req: &AnalysisRequest,
    models: &ModelOptions,
) -> Result<Analysis> {
    let context = || format!("reading {source}");
    let mut read = read_once(input, Limits::default()).with_context(context)?;
    // A history with transactions is a transactional one (as WorkloadKind::detect says); which
    // one, its micro-ops tell.
    let txn_model = read.txns.as_ref().map(|t| {
        if Model::detect_txns(t) == Some(Model::RwRegister) {
            Model::RwRegister
        } else {
            Model::Workload(WorkloadKind::ListAppend)
        }
    });
    let known = models.model.or(req.workload.map(Model::Workload));
    let opts = options(req, models);
    let checkers = checkers_for(req, known.or(txn_model), None);
    let mut done = BTreeMap::new();
    if checkers.contains(&CheckerName::RwRegister) {
        let txns = read.txns.as_ref();
        let result = registry::isolated(CheckerName::RwRegister, || {
            rw_register::check_txns(txns, &opts)
        });
        done.insert(CheckerName::RwRegister, result);
    }
    if checkers.contains(&CheckerName::TxnCycles) {
        let txns = read.txns.take();
        let result = registry::isolated(CheckerName::TxnCycles, || {
            txn_cycles::check_txns(txns, &opts)
        });
        done.insert(CheckerName::TxnCycles, result);
    }
    drop(read.txns.take());
    let (history, input, warnings) = read.into_history().with_context(context)?;
    let model = known
        .or(txn_model)
        .or_else(|| Model::detect(&history, None));
    let mut a = analyse_with(history, req, model, models, done, Telemetry::default());
    a.results.input = Some(input);
    a.warnings = warnings;
    Ok(a)
}

/// Checks a history.
pub fn analyse(history: History, req: &AnalysisRequest) -> Analysis {
    let model = req
        .workload
        .map(Model::Workload)
        .or_else(|| Model::detect(&history, None));
    analyse_with(
        history,
        req,
        model,
        &ModelOptions::default(),
        BTreeMap::new(),
        Telemetry::default(),
    )
}

/// The checkers a request asks for; with the history at hand, also those its shape calls for
/// (`shards` on a Redis Cluster history).
fn checkers_for(
    req: &AnalysisRequest,
    model: Option<Model>,
    history: Option<&History>,
) -> Vec<CheckerName> {
    if !req.checkers.is_empty() {
        req.checkers.clone()
    } else if let Some(m) = model {
        match history {
            Some(h) => CheckerName::defaults_for_history(m, h),
            None => CheckerName::defaults_for_model(m),
        }
    } else {
        vec![CheckerName::Availability]
    }
}

fn options(req: &AnalysisRequest, models: &ModelOptions) -> CheckOptions {
    let mut opts = CheckOptions {
        reads_from_master: req.reads_from_master,
        ..CheckOptions::default()
    };

    if !models.consistency_models.is_empty() {
        opts.consistency_models = models.consistency_models.clone();
    }
    opts.key_assumptions = models.key_assumptions;
    expect::apply_to_options(&req.expect, &mut opts);
    opts
}

/// Checks a history; checkers in `done` already ran (on another form of the same history).
fn analyse_with(
    history: History,
    req: &AnalysisRequest,
    model: Option<Model>,
    models: &ModelOptions,
    done: BTreeMap<CheckerName, CheckResult>,
    telemetry: Telemetry,
) -> Analysis {
    let checkers = checkers_for(req, model, Some(&history));
    let mut opts = options(req, models);
    opts.telemetry = telemetry;
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
        workload: model.and_then(Model::workload),
        model,
        results,
        verdict,
        warnings: Vec::new(),
        telemetry: Vec::new(),
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
            let text = std::fs::read(file.path()).unwrap();
            let mut lean =
                analyse_input(text.as_slice(), "test", &req, &ModelOptions::default()).unwrap();
            assert_eq!(lean.results.input.take().unwrap().format, "jsonl");
            assert_eq!(lean.workload, Some(WorkloadKind::ListAppend));
            assert_eq!(
                serde_json::to_string_pretty(&full.results).unwrap(),
                serde_json::to_string_pretty(&lean.results).unwrap()
            );
            assert_eq!(full.history.len(), lean.history.len());
            // The nemesis and observer records are back among the transactions, in order.
            let ops = lean.history.ops();
            assert!(ops.windows(2).all(|w| w[0].index < w[1].index));
            assert_eq!(ops[0].f, full.history.ops()[0].f);
            assert!(full.results.checkers.contains_key("txn-cycles"));
        }
    }

    #[test]
    fn other_histories_take_the_ordinary_path() {
        let text = "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":1}\n\
                    {\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"value\":1}\n";
        let lean = analyse_input(
            text.as_bytes(),
            "test",
            &AnalysisRequest::default(),
            &ModelOptions::default(),
        )
        .unwrap();
        assert_eq!(lean.workload, Some(WorkloadKind::Set));
        assert_eq!(lean.history.ops()[1].value, json!(1));
    }

    /// A run folder's telemetry reaches the lost-writes explanation; the same history checked
    /// bare (`redline check`) gives the same verdict and rules, without the evidence.
    #[test]
    fn a_run_folders_telemetry_explains_a_lost_write_and_a_bare_history_still_checks() {
        let history = [
            json!({"process": 0, "type": "invoke", "f": "add", "value": 1, "node": "n1", "time": 1_000_000}),
            json!({"process": 0, "type": "ok", "f": "add", "value": 1, "node": "n1", "time": 3_000_000}),
            json!({"process": "nemesis", "type": "invoke", "f": "kill", "value": ["n1"], "time": 10_000_000}),
            json!({"process": "nemesis", "type": "info", "f": "kill", "value": ["n1"], "time": 11_000_000}),
            json!({"process": "observer", "type": "info", "f": "topology", "value": {"master": "n1"}, "time": 90_000_000}),
            json!({"process": 9, "type": "invoke", "f": "read", "node": "n1", "final": true, "time": 100_000_000}),
            json!({"process": 9, "type": "ok", "f": "read", "value": [], "node": "n1", "final": true, "time": 101_000_000}),
        ];
        let text: String = history
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut l = l.clone();
                l["index"] = json!(i);
                format!("{l}\n")
            })
            .collect();
        let sample = json!({"index": 0, "time": 9_000_000, "process": "observer", "type": "info",
            "f": "replication", "node": "n1", "value": {"role": "master", "master_repl_offset": 1,
            "persistence": {"aof_enabled": 1, "aof_pending_bio_fsync": 1, "aof_buffer_length": 97}}});
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(store::HISTORY), &text).unwrap();
        std::fs::write(dir.path().join(store::TELEMETRY), format!("{sample}\n")).unwrap();
        let req = AnalysisRequest {
            expect: vec!["lost-within=7".parse().unwrap()],
            ..AnalysisRequest::default()
        };
        let run = analyse_run(dir.path(), &req).unwrap();
        let bare = analyse_input(text.as_bytes(), "test", &req, &ModelOptions::default()).unwrap();
        let explanation = |a: &Analysis| {
            a.results.checkers["lost-writes"].anomalies[0]
                .explanation
                .clone()
        };
        assert!(
            explanation(&run)
                .contains("n1 had a background fsync pending and 97 bytes of AOF buffer"),
            "{}",
            explanation(&run)
        );
        assert!(!explanation(&bare).contains("fsync"));
        assert_eq!(run.telemetry.len(), 1);
        assert_eq!(run.results.expectations, bare.results.expectations);
        assert_eq!(run.results.expectations[0].held, Some(true));
        assert_eq!(run.verdict, bare.verdict);
    }
}
