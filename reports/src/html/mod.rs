//! The self-contained `report.html`: one file, no network at view time, readable on a laptop
//! and printable.
//!
//! - [`page`]: head and stylesheet, header (verdicts, run facts, the command that reproduces
//!   the run), operation and statistics summaries, the fault list.
//! - [`anomalies`]: per checker, each anomaly with its witness ops and explanation.
//! - [`charts`]: latency and throughput over time (plotters SVG) and the shared chart plumbing.
//! - [`quantile_charts`]: staleness per node and visibility latency quantiles.
//! - [`replication`]: replication offset lag per replica from the telemetry.
//! - [`persistence`]: each node's AOF buffer and background fsyncs from the telemetry, beside
//!   the faults, and what a killed node's persistence held.
//! - [`shards`]: on a Redis Cluster run, each shard's primary timeline, slots, outcomes,
//!   acknowledgements and losses, and the split-brain slot ranges.
//! - [`faults`]: fault intervals from the nemesis records, shaded on every time chart.
//! - [`timeline`]: per-process lanes bucketed in time, and detailed windows around every
//!   witness op, which the anomaly tables link to.
//!
//! Size is bounded by construction, not by dropping data silently: charts thin or bucket their
//! points, the lanes are bucketed, and the per-checker anomaly list and witness windows are
//! capped with a note pointing at `results.json`, which holds everything.

pub mod anomalies;
pub mod charts;
pub mod faults;
pub mod page;
pub mod persistence;
pub mod quantile_charts;
pub mod replication;
pub mod shards;
pub mod timeline;

use crate::error::ReportError;
use crate::run_info::RunInfo;
use charts::Figure;
use redline_checkers::telemetry::Telemetry;
use redline_checkers::{History, Op, Results};
use serde_json::Value;
use std::fmt::Write;

/// Anomalies listed per checker on the page; the rest are counted and left to `results.json`.
pub const ANOMALIES_SHOWN_PER_CHECKER: usize = 100;

/// Renders the whole report page.
///
/// `telemetry` holds the observer's records from `telemetry.jsonl` (INFO replication and
/// persistence samples); pass `&[]` when there are none. Observer `replication` records inside the history are used
/// as well.
pub fn render_html(
    info: Option<&RunInfo>,
    history: &History,
    telemetry: &[Op],
    results: &Results,
) -> Result<String, ReportError> {
    let bands = faults::fault_bands(history);
    let max_s = (history.end_time() as f64 / 1e9).max(1e-3);
    let windows = timeline::witness_windows(history, results);
    let mut figures = charts::latency_charts(history, &bands, max_s)?;
    figures.push(charts::throughput_chart(history, &bands, max_s)?);
    figures.push(quantile_charts::staleness_chart(history, results)?);
    figures.push(replication::replication_lag_chart(
        history, telemetry, &bands, max_s,
    )?);
    let samples = Telemetry::from_records(telemetry);
    figures.push(persistence::persistence_chart(&samples, &bands, max_s)?);
    figures.push(quantile_charts::visibility_chart(results)?);

    let mut out = String::with_capacity(1 << 20);
    page::open(&mut out, info, results)?;
    page::header(&mut out, info, results)?;
    // What went wrong at a glance first (charts with fault bands), then the anomalies in full.
    write_figures(&mut out, &figures)?;
    page::fault_list(&mut out, &bands, &samples)?;
    shards::section(&mut out, results, &bands, max_s)?;
    anomalies::section(&mut out, history, results, &windows)?;
    page::summary(&mut out, history, results)?;
    let concurrency = info.map(|i| i.concurrency).filter(|&c| c > 0);
    timeline::lanes(&mut out, history, concurrency, &bands)?;
    timeline::windows(&mut out, history, &windows)?;
    page::close(&mut out)?;
    Ok(out)
}

fn write_figures(out: &mut String, figures: &[Figure]) -> std::fmt::Result {
    writeln!(out, "<h2 id=\"charts\">charts</h2>")?;
    for figure in figures {
        match &figure.svg {
            Some(svg) => writeln!(
                out,
                "<figure class=\"chart\"><figcaption>{}</figcaption>{svg}<p class=\"note\">{}</p></figure>",
                escape(&figure.title),
                escape(&figure.note)
            )?,
            None => writeln!(
                out,
                "<p class=\"note chart-omitted\">{}: not drawn, {}.</p>",
                escape(&figure.title),
                escape(&figure.note)
            )?,
        }
    }
    Ok(())
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Compact JSON, cut at `max` characters with the full length noted (a final read of a large
/// set would otherwise fill the page).
pub(crate) fn short_value(value: &Value, max: usize) -> String {
    let text = value.to_string();
    let count = text.chars().count();
    if count <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}… ({count} chars)")
}

/// The position in `history.ops()` of the record with `Op::index == index`.
pub(crate) fn position_of(history: &History, index: u64) -> Option<usize> {
    history.ops().binary_search_by_key(&index, |o| o.index).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_cuts_long_values() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let long = Value::Array((0..100).map(Value::from).collect());
        let short = short_value(&long, 10);
        assert!(short.starts_with("[0,1,2,3,4"), "{short}");
        assert!(short.ends_with("chars)"), "{short}");
    }
}
