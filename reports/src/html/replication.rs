//! Replication offset lag per replica over time, from the observer's `INFO replication`
//! samples (`f: "replication"`).
//!
//! A sample's value is read defensively: `role` (`master`, or `slave`/`replica`), the master's
//! `master_repl_offset`, and a replica's own offset from `slave_repl_offset`, else `offset`,
//! else `slave_read_repl_offset`, else its `master_repl_offset`; numbers may be JSON numbers or
//! strings (INFO is text). Lag at a replica sample = the offset of the master sample nearest in
//! time (within 2 s, any node reporting `master`) minus the replica's offset, floored at 0: a
//! master sample taken slightly before the replica's can trail it, which is not negative lag.
//! After a failover the new master continues the offset sequence (PSYNC), so lag stays
//! meaningful; around the failover itself two nodes may claim `master` and the chart shows
//! whatever the nearest claim says.

use super::charts::{draw_legend, render_svg, time_chart, Figure, PALETTE};
use super::faults::FaultBand;
use crate::error::ReportError;
use plotters::prelude::*;
use redline_checkers::{Function, History, Op, Process};
use serde_json::Value;
use std::collections::BTreeMap;

/// A master sample further than this from a replica sample is not used for its lag.
const NEAREST_MASTER_NS: u64 = 2_000_000_000;
/// Points per replica line; beyond that, the maximum lag per time bucket is drawn.
const MAX_POINTS: usize = 1_500;

struct Sample {
    time: u64,
    node: String,
    master: bool,
    offset: i64,
}

fn number(value: &Value, field: &str) -> Option<i64> {
    match value.get(field)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn sample(op: &Op) -> Option<Sample> {
    let value = &op.value;
    let node = (op.node.as_deref())
        .or_else(|| value.get("node")?.as_str())?
        .to_string();
    let role = value.get("role")?.as_str()?;
    let master = role == "master";
    let offset = if master {
        number(value, "master_repl_offset")?
    } else {
        [
            "slave_repl_offset",
            "offset",
            "slave_read_repl_offset",
            "master_repl_offset",
        ]
        .iter()
        .find_map(|f| number(value, f))?
    };
    Some(Sample {
        time: op.time,
        node,
        master,
        offset,
    })
}

/// Lag in bytes per replica node: (time s, lag).
fn lag_series(samples: &[Sample]) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut masters: Vec<(u64, i64, &str)> = samples
        .iter()
        .filter(|s| s.master)
        .map(|s| (s.time, s.offset, s.node.as_str()))
        .collect();
    masters.sort_by_key(|m| m.0);
    let mut lags: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.master) {
        let at = masters.partition_point(|m| m.0 < s.time);
        let nearest = [at.checked_sub(1), Some(at)]
            .into_iter()
            .flatten()
            .filter_map(|i| masters.get(i))
            .filter(|m| m.2 != s.node)
            .min_by_key(|m| m.0.abs_diff(s.time));
        let Some(&(time, offset, _)) = nearest else {
            continue;
        };
        if time.abs_diff(s.time) > NEAREST_MASTER_NS {
            continue;
        }
        let lag = (offset - s.offset).max(0) as f64;
        lags.entry(s.node.clone())
            .or_default()
            .push((s.time as f64 / 1e9, lag));
    }
    for points in lags.values_mut() {
        if points.len() > MAX_POINTS {
            *points = thin_by_max(points);
        }
    }
    lags
}

/// Keeps the largest value per time bucket (of [`MAX_POINTS`]), so spikes survive thinning.
pub(crate) fn thin_by_max(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let (first, last) = (points[0].0, points[points.len() - 1].0);
    let width = ((last - first) / MAX_POINTS as f64).max(1e-9);
    let mut buckets: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for &(t, lag) in points {
        let b = ((t - first) / width) as usize;
        let entry = buckets.entry(b).or_insert((t, lag));
        if lag > entry.1 {
            *entry = (t, lag);
        }
    }
    buckets.into_values().collect()
}

/// The lag chart, from telemetry records and any observer `replication` records in the history.
pub fn replication_lag_chart(
    history: &History,
    telemetry: &[Op],
    bands: &[FaultBand],
    max_s: f64,
) -> Result<Figure, ReportError> {
    let title = "replication offset lag";
    let from_history = history
        .ops()
        .iter()
        .filter(|o| o.process == Process::Observer);
    let samples: Vec<Sample> = telemetry
        .iter()
        .chain(from_history)
        .filter(|o| o.f == Function::Replication)
        .filter_map(sample)
        .collect();
    if samples.is_empty() {
        return Ok(Figure::omitted(
            title,
            "no INFO replication samples in the telemetry",
        ));
    }
    let lags = lag_series(&samples);
    if lags.is_empty() {
        return Ok(Figure::omitted(
            title,
            "no replica sample had a master sample within 2 s",
        ));
    }
    let max_s = lags.values().flatten().map(|p| p.0).fold(max_s, f64::max);
    let y_max = lags
        .values()
        .flatten()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let svg = render_svg(title, |root| {
        let mut chart = time_chart(root, (max_s, y_max), 70, "lag (bytes)", bands)?;
        for (i, (node, points)) in lags.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(node.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    let note = format!(
        "{} samples; lag = nearest master's master_repl_offset − replica offset",
        samples.len()
    );
    Ok(Figure {
        title: title.to_string(),
        svg: Some(svg),
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::OpType;
    use serde_json::json;

    fn obs(ms: u64, node: &str, value: Value) -> Op {
        let mut op = Op::new(
            0,
            ms * 1_000_000,
            Process::Observer,
            OpType::Info,
            "replication",
        );
        op.node = Some(node.into());
        op.value = value;
        op
    }

    #[test]
    fn lag_is_nearest_master_offset_minus_replica_offset() {
        let samples: Vec<Sample> = [
            obs(
                100,
                "n1",
                json!({"role": "master", "master_repl_offset": 1000}),
            ),
            obs(
                105,
                "n2",
                json!({"role": "slave", "slave_repl_offset": "900"}),
            ),
            obs(
                200,
                "n1",
                json!({"role": "master", "master_repl_offset": 2000}),
            ),
            obs(199, "n3", json!({"role": "replica", "offset": 2100})),
            obs(9000, "n2", json!({"role": "slave", "slave_repl_offset": 1})),
        ]
        .iter()
        .filter_map(sample)
        .collect();
        let lags = lag_series(&samples);
        assert_eq!(lags["n2"], vec![(0.105, 100.0)]); // the 9 s sample has no master near it
        assert_eq!(lags["n3"], vec![(0.199, 0.0)]);
    }
}
