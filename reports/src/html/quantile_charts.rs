//! Bar charts of quantiles: staleness per node (stale-reads) and visibility latency (set
//! workload, lost-writes). Both read checker statistics defensively: a missing or oddly shaped
//! statistic omits the chart with a note, it never fails the page.

use super::charts::{draw_legend, render_svg, Figure, PALETTE};
use crate::error::ReportError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use redline_checkers::names::{kind, stat};
use redline_checkers::quantiles::{quantile, sorted};
use redline_checkers::{CheckResult, History, Results};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const STALENESS_QUANTILES: [&str; 3] = [
    stat::STALENESS_MS_P50,
    stat::STALENESS_MS_P99,
    stat::STALENESS_MS_MAX,
];

/// Staleness quantiles per node, from the stale-reads `per_node` statistic, or else computed
/// from the stale-read anomalies (which may list only the worst N: the note says so).
pub fn staleness_chart(history: &History, results: &Results) -> Result<Figure, ReportError> {
    let title = "staleness per node";
    let Some(result) = results.checkers.get("stale-reads") else {
        return Ok(Figure::omitted(title, "no stale-reads result"));
    };
    let (rows, note) = match per_node_stats(result) {
        Some(rows) => (rows, "from the stale-reads per_node statistics".to_string()),
        None => {
            let rows = staleness_from_anomalies(history, result);
            let note = format!(
                "computed from {} stale-read anomalies (the checker may list only the worst ones)",
                result.anomalies.len()
            );
            (rows, note)
        }
    };
    if rows.is_empty() {
        return Ok(Figure::omitted(
            title,
            "no per-node staleness statistics and no stale reads",
        ));
    }
    let categories: Vec<String> = rows.keys().cloned().collect();
    let series: Vec<(String, Vec<Option<f64>>)> = STALENESS_QUANTILES
        .iter()
        .enumerate()
        .map(|(q, name)| {
            let label = name.trim_start_matches("staleness_ms_").to_string();
            (label, rows.values().map(|v| v[q]).collect())
        })
        .collect();
    let svg = grouped_bars(title, "staleness (ms)", &categories, &series)?;
    Ok(Figure {
        title: title.to_string(),
        svg: Some(svg),
        note,
    })
}

type QuantileRow = [Option<f64>; 3];

/// `per_node` as an object `{node: {staleness_ms_p50: ..}}` or an array of `{node: .., ..}`.
fn per_node_stats(result: &CheckResult) -> Option<BTreeMap<String, QuantileRow>> {
    let row =
        |m: &Map<String, Value>| STALENESS_QUANTILES.map(|q| m.get(q).and_then(Value::as_f64));
    let mut rows = BTreeMap::new();
    match result.stats.get(stat::PER_NODE)? {
        Value::Object(nodes) => {
            for (node, stats) in nodes {
                if let Some(m) = stats.as_object() {
                    rows.insert(node.clone(), row(m));
                }
            }
        }
        Value::Array(items) => {
            for m in items.iter().filter_map(Value::as_object) {
                if let Some(node) = m.get("node").and_then(Value::as_str) {
                    rows.insert(node.to_string(), row(m));
                }
            }
        }
        _ => return None,
    }
    rows.retain(|_, r| r.iter().any(Option::is_some));
    (!rows.is_empty()).then_some(rows)
}

/// Staleness samples from anomaly details (`staleness_ms`), by the node of the stale read
/// (`details.node`, else the `node` of the first witness op that has one).
fn staleness_from_anomalies(
    history: &History,
    result: &CheckResult,
) -> BTreeMap<String, QuantileRow> {
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for a in result
        .anomalies
        .iter()
        .filter(|a| a.kind == kind::STALE_READ)
    {
        let Some(ms) = a.details.get("staleness_ms").and_then(Value::as_f64) else {
            continue;
        };
        let node = a
            .details
            .get("node")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                a.ops
                    .iter()
                    .find_map(|&i| Some(history.by_index(i)?.node.as_deref()?.to_string()))
            })
            .unwrap_or_else(|| "unknown node".to_string());
        samples.entry(node).or_default().push(ms);
    }
    samples
        .into_iter()
        .map(|(node, s)| {
            let s = sorted(s);
            (
                node,
                [quantile(&s, 0.5), quantile(&s, 0.99), quantile(&s, 1.0)],
            )
        })
        .collect()
}

/// Visibility latency quantiles of the set workload: every `visibility_ms_*` statistic of
/// lost-writes (time from an add's acknowledgement until reads saw it stably).
pub fn visibility_chart(results: &Results) -> Result<Figure, ReportError> {
    let title = "visibility latency";
    let Some(result) = results.checkers.get("lost-writes") else {
        return Ok(Figure::omitted(title, "no lost-writes result"));
    };
    let mut quantiles: Vec<(String, f64)> = result
        .stats
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("visibility_ms_")?.to_string(), v.as_f64()?)))
        .collect();
    if quantiles.is_empty() {
        return Ok(Figure::omitted(
            title,
            "lost-writes reported no visibility_ms_* statistics",
        ));
    }
    quantiles.sort_by(|a, b| quantile_rank(&a.0).total_cmp(&quantile_rank(&b.0)));
    let categories: Vec<String> = quantiles.iter().map(|q| q.0.clone()).collect();
    let series = vec![(
        "ms".to_string(),
        quantiles.iter().map(|q| Some(q.1)).collect(),
    )];
    let svg = grouped_bars(title, "visibility (ms)", &categories, &series)?;
    let note =
        "time from acknowledgement until an add was visible to reads, by quantile".to_string();
    Ok(Figure {
        title: title.to_string(),
        svg: Some(svg),
        note,
    })
}

/// Orders quantile names: min, p50, p90, p99, p999, max (`p999` is 99.9, `p9999` 99.99).
fn quantile_rank(name: &str) -> f64 {
    match name {
        "min" => -1.0,
        "max" => 1000.0,
        "mean" => 50.5,
        other => other
            .strip_prefix('p')
            .and_then(|d| d.parse::<f64>().ok())
            .map_or(500.0, |p| p / 10f64.powi((other.len() as i32 - 3).max(0))),
    }
}

/// Bars grouped by category (a node, a quantile), one colour per series.
fn grouped_bars(
    title: &str,
    y_desc: &str,
    categories: &[String],
    series: &[(String, Vec<Option<f64>>)],
) -> Result<String, ReportError> {
    let y_max = series
        .iter()
        .flat_map(|s| s.1.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-3)
        * 1.15;
    let n = categories.len() as f64;
    let width = 0.8 / series.len().max(1) as f64;
    render_svg(title, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..n, 0.0..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(y_desc)
            .draw()?;
        for (s, (name, values)) in series.iter().enumerate() {
            let color = PALETTE[s % PALETTE.len()];
            let bars = values.iter().enumerate().filter_map(|(c, v)| {
                let x0 = c as f64 + 0.1 + s as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width, (*v)?)],
                    color.filled(),
                ))
            });
            chart
                .draw_series(bars)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        let style =
            TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (c, category) in categories.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(c as f64 + 0.5, 0.0));
            root.draw(&Text::new(category.clone(), (x, y + 6), style.clone()))?;
        }
        if series.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_names_sort_numerically() {
        let mut names = vec!["max", "p99", "p50", "p999", "p90", "min"];
        names.sort_by(|a, b| quantile_rank(a).total_cmp(&quantile_rank(b)));
        assert_eq!(names, ["min", "p50", "p90", "p99", "p999", "max"]);
    }
}
