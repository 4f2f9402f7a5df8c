//! Terminal tables (tabled): the summary printed after a run and the `redline runs` listing.
//!
//! Tables are plain text with box-drawing borders, meant for a terminal or a CI log; every
//! number here is also in `results.json`, so nothing is computed that a reader cannot find.

use crate::counts::ops_by_f;
use crate::run_info::RunInfo;
use crate::verdict::{checker_verdict, expectation_label, validity_label};
use redline_checkers::names::stat;
use redline_checkers::CheckerName::{self, *};
use redline_checkers::{CheckResult, History, Results, Validity};
use std::collections::BTreeMap;
use tabled::builder::Builder;
use tabled::settings::Style;

/// The summary of one run: header line, operations by `f` and outcome, each checker's verdict,
/// anomaly counts by kind, key statistics and the `--expect` outcomes, as one block of text.
pub fn summary_table(info: Option<&RunInfo>, history: &History, results: &Results) -> String {
    let mut out = String::new();
    if let Some(info) = info {
        out.push_str(&run_line(info));
        out.push('\n');
    }
    out.push_str(&format!("verdict: {}\n", validity_label(results.valid)));
    for part in &results.incomplete {
        out.push_str(&format!("incomplete: {part}\n"));
    }
    out.push('\n');
    out.push_str(&ops_section(history));
    out.push_str(&checkers_section(results));
    if let Some(anomalies) = anomalies_section(results) {
        out.push_str(&anomalies);
    }
    if let Some(first) = first_anomaly(results) {
        out.push_str(&first);
    }
    if let Some(stats) = stats_section(results) {
        out.push_str(&stats);
    }
    if !results.expectations.is_empty() {
        let mut b = Builder::default();
        b.push_record(["expectation", "outcome", "detail"]);
        for e in &results.expectations {
            b.push_record([
                e.rule.as_str(),
                expectation_label(e.held),
                e.detail.as_str(),
            ]);
        }
        out.push_str(&render(b));
    }
    out
}

fn run_line(info: &RunInfo) -> String {
    let mut parts = vec![format!("test {}", info.name)];
    for (label, value) in [
        ("workload", info.workload.clone()),
        ("nemesis", info.nemesis.clone()),
        ("server", info.server_label()),
    ] {
        if !value.is_empty() {
            parts.push(format!("{label} {value}"));
        }
    }
    parts.push(format!("seed {}", info.seed));
    parts.push(format!("{:.1} s", info.duration_ms as f64 / 1000.0));
    parts.join(" | ")
}

fn ops_section(history: &History) -> String {
    let mut b = Builder::default();
    b.push_record(["f", "ok", "fail", "info", "total"]);
    for (f, c) in ops_by_f(history) {
        b.push_record([
            f,
            c.ok.to_string(),
            c.fail.to_string(),
            c.info.to_string(),
            c.total().to_string(),
        ]);
    }
    render(b)
}

fn checkers_section(results: &Results) -> String {
    let mut b = Builder::default();
    b.push_record(["checker", "verdict", "anomalies", "notes"]);
    for (name, r) in &results.checkers {
        b.push_record([
            name.clone(),
            checker_verdict(r),
            r.anomaly_count().to_string(),
            short_notes(&r.notes),
        ]);
    }
    render(b)
}

fn anomalies_section(results: &Results) -> Option<String> {
    let mut b = Builder::default();
    b.push_record(["checker", "anomaly kind", "count"]);
    let mut any = false;
    for (name, r) in &results.checkers {
        for (kind, count) in r.counts_by_kind() {
            b.push_record([name.clone(), kind, count.to_string()]);
            any = true;
        }
    }
    any.then(|| render(b))
}

/// The paragraph that says why: the first anomaly of the first checker that broke (else of
/// the first checker with any), with its checker, kind and key.
fn first_anomaly(results: &Results) -> Option<String> {
    let with_anomalies = || {
        results
            .checkers
            .iter()
            .filter(|(_, r)| r.skipped.is_none() && !r.anomalies.is_empty())
    };
    let (checker, result) = with_anomalies()
        .find(|(_, r)| r.valid == Validity::Invalid)
        .or_else(|| with_anomalies().next())?;
    let anomaly = result.anomalies.first()?;
    let key = anomaly
        .key
        .as_ref()
        .map_or(String::new(), |k| format!(", key {k}"));
    Some(format!(
        "first anomaly ({checker}, {}{key}):\n{}\n\n",
        anomaly.kind, anomaly.explanation
    ))
}

/// Notes for a table cell: each cut at 80 characters (results.json and the report have them
/// whole).
fn short_notes(notes: &[String]) -> String {
    notes
        .iter()
        .map(|n| {
            if n.chars().count() <= 80 {
                n.clone()
            } else {
                format!("{}…", n.chars().take(79).collect::<String>())
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The statistics a reader looks for first. Absent ones are left out, not shown as zero.
const KEY_STATS: &[(CheckerName, &str, &str)] = &[
    (LostWrites, stat::LOST, "lost writes"),
    (LostWrites, stat::ACKNOWLEDGED, "acknowledged writes"),
    (LostWrites, stat::RECOVERED, "recovered (info) writes"),
    (LostWrites, stat::UNEXPECTED, "unexpected elements"),
    (LostWrites, stat::VISIBILITY_MS_P99, "visibility p99 (ms)"),
    (StaleReads, stat::STALE_FRACTION, "stale read fraction"),
    (StaleReads, stat::STALENESS_MS_P99, "staleness p99 (ms)"),
    (StaleReads, stat::STALENESS_MS_MAX, "staleness max (ms)"),
    (Wait, stat::LOST_BY_ACKED, "lost writes by WAIT ack count"),
    (
        Wait,
        stat::LOST_BY_AOF_ACKED,
        "lost writes by WAITAOF acks (local/replicas)",
    ),
    (
        Wait,
        stat::WAIT_DURABLE_LOST,
        "lost at or above the WAIT threshold",
    ),
    (Counter, stat::OUT_OF_BOUNDS, "counter reads out of bounds"),
    (
        Linearizable,
        stat::KEYS_NONLINEARIZABLE,
        "non-linearizable keys",
    ),
    (TxnCycles, stat::MODELS_RULED_OUT, "models ruled out"),
    (SplitBrain, stat::OVERLAP_MS_TOTAL, "split-brain time (ms)"),
    (
        Availability,
        stat::THROUGHPUT_OK_PER_S,
        "throughput (ok ops/s)",
    ),
];

fn stats_section(results: &Results) -> Option<String> {
    let mut b = Builder::default();
    b.push_record(["checker", "statistic", "value"]);
    let mut any = false;
    for (checker, stat, label) in KEY_STATS {
        let Some(value) = results
            .checkers
            .get(checker.as_str())
            .and_then(|r| r.stats.get(*stat))
        else {
            continue;
        };
        let empty = value.is_null()
            || value.as_object().is_some_and(|o| o.is_empty())
            || value.as_array().is_some_and(|a| a.is_empty());
        if empty {
            continue;
        }
        b.push_record([checker.to_string(), label.to_string(), format_stat(value)]);
        any = true;
    }
    any.then(|| render(b))
}

/// A statistic for display: integers as they are, other numbers to 4 decimals without trailing
/// zeros (`18.0` shows as `18`, `0.01234567` as `0.0123`).
pub(crate) fn format_stat(value: &serde_json::Value) -> String {
    match value.as_f64() {
        Some(v) if value.is_f64() => {
            let text = format!("{v:.4}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        _ => value.to_string(),
    }
}

fn render(b: Builder) -> String {
    let mut table = b.build();
    table.with(Style::sharp());
    format!("{table}\n")
}

/// One line of `redline runs`: a past run and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Start time, RFC 3339 (UTC strings of one format sort as times; rows are sorted on it).
    pub time: String,
    pub test: String,
    pub workload: String,
    pub nemesis: String,
    /// Client operations in the history.
    pub ops: u64,
    pub verdict: Validity,
    /// Anomaly counts by kind, summed over checkers.
    pub anomalies: BTreeMap<String, usize>,
    /// Not every planned part of the run ran (its results say so, or it has none).
    pub incomplete: bool,
}

impl RunRow {
    /// A row from a run's description, its results and its operation count.
    pub fn new(info: &RunInfo, results: &Results, ops: u64) -> RunRow {
        let mut anomalies = BTreeMap::new();
        for r in results.checkers.values() {
            for (kind, n) in CheckResult::counts_by_kind(r) {
                *anomalies.entry(kind).or_insert(0) += n;
            }
        }
        RunRow {
            time: info.started_at.clone(),
            test: info.name.clone(),
            workload: info.workload.clone(),
            nemesis: info.nemesis.clone(),
            ops,
            verdict: results.valid,
            anomalies,
            incomplete: !results.incomplete.is_empty(),
        }
    }

    /// A run that has no results: killed before it was checked, or failed before it had a
    /// history. Its verdict is unknown, never valid.
    pub fn unchecked(info: &RunInfo) -> RunRow {
        RunRow {
            time: info.started_at.clone(),
            test: info.name.clone(),
            workload: info.workload.clone(),
            nemesis: info.nemesis.clone(),
            ops: 0,
            verdict: Validity::Unknown,
            anomalies: BTreeMap::new(),
            incomplete: true,
        }
    }
}

/// The table of past runs, newest first.
pub fn runs_table(rows: &[RunRow]) -> String {
    let mut sorted: Vec<&RunRow> = rows.iter().collect();
    sorted.sort_by(|a, b| b.time.cmp(&a.time));
    let mut b = Builder::default();
    b.push_record([
        "time",
        "test",
        "workload",
        "nemesis",
        "ops",
        "verdict",
        "anomalies",
    ]);
    for row in sorted {
        let anomalies: Vec<String> = row
            .anomalies
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        b.push_record([
            row.time.clone(),
            row.test.clone(),
            row.workload.clone(),
            row.nemesis.clone(),
            row.ops.to_string(),
            if row.incomplete {
                format!("{} (incomplete)", validity_label(row.verdict))
            } else {
                validity_label(row.verdict).to_string()
            },
            anomalies.join(", "),
        ]);
    }
    render(b)
}
