//! The suite's one table: per test, its verdict and detection rate, then the figures that let
//! configurations be compared side by side (lost writes, stale reads, staleness, unavailability,
//! lost writes by WAIT acknowledgement count). Rows keep the suite file's order, so a file that
//! lists the variants of one fault together reads as a comparison.
//!
//! Comparison columns that no test measured are left out. Under the table, one line per test that did not hold says why (the broken rule with the
//! run and seed that broke it, or what could not run).

use super::summary::{TestSummary, TestVerdict};
use tabled::builder::Builder;
use tabled::settings::Style;

/// A column: its header and its cell for a test (`None`: not measured).
type Column = (&'static str, fn(&TestSummary) -> Option<String>);

/// Always shown.
const VERDICT_COLUMNS: [Column; 5] = [
    ("test", |s| Some(s.name.clone())),
    ("runs", |s| Some(runs(s))),
    ("detected (95% CI)", |s| Some(s.detection.label())),
    ("verdict", |s| Some(s.verdict.label().to_string())),
    ("worst anomaly", |s| {
        s.worst_anomaly
            .as_ref()
            .map(|(kind, n)| format!("{kind} ×{n}"))
    }),
];

/// Shown when at least one test measured them.
const COMPARISON_COLUMNS: [Column; 7] = [
    ("keys/run", |s| {
        s.keys.map(|(lo, hi)| match lo == hi {
            true => lo.to_string(),
            false => format!("{lo}–{hi}"),
        })
    }),
    ("lost Σ/max", |s| {
        Some(format!("{} / {}", s.lost_total?, s.lost_max?))
    }),
    ("stale reads", |s| {
        s.stale_fraction.map(|f| format!("{:.2}%", 100.0 * f))
    }),
    ("staleness p99", |s| {
        s.staleness_ms_p99_max.map(|ms| format!("{ms:.1} ms"))
    }),
    ("failover (max)", |s| {
        s.failover_ms_max.map(|ms| format!("{:.2} s", ms / 1000.0))
    }),
    ("unavailable/run", |s| {
        // `+ 0.0` turns a negative zero into zero, so the cell never reads "-0.00 s".
        s.unavailable_ms_mean
            .map(|ms| format!("{:.2} s", (ms / 1000.0).max(0.0) + 0.0))
    }),
    ("lost by WAIT acks", |s| {
        (!s.lost_by_acked.is_empty()).then(|| {
            s.lost_by_acked
                .iter()
                .map(|(acks, n)| format!("{acks}:{n}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
    }),
];

/// The table and the explanation lines, ready to print.
pub fn render(summaries: &[TestSummary]) -> String {
    let columns: Vec<&Column> = VERDICT_COLUMNS
        .iter()
        .chain(
            COMPARISON_COLUMNS
                .iter()
                .filter(|(_, cell)| summaries.iter().any(|s| cell(s).is_some())),
        )
        .collect();
    let mut b = Builder::default();
    b.push_record(columns.iter().map(|(header, _)| header.to_string()));
    for s in summaries {
        b.push_record(
            columns
                .iter()
                .map(|(_, cell)| cell(s).unwrap_or_else(|| "-".into())),
        );
    }
    let mut table = b.build();
    table.with(Style::sharp());
    let mut out = format!("{table}\n");
    for s in summaries.iter().filter(|s| s.verdict != TestVerdict::Held) {
        out.push_str(&format!("{} {}: {}\n", s.verdict.label(), s.name, s.reason));
    }
    out
}

/// `5`, or `3 of 5` when some runs were not checked.
fn runs(s: &TestSummary) -> String {
    if s.checked == s.planned {
        s.planned.to_string()
    } else {
        format!("{} of {}", s.checked, s.planned)
    }
}
