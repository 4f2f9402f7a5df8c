//! Persistence beside the faults, from the telemetry's `INFO persistence` samples: a chart of
//! each node's AOF buffer (bytes of acknowledged commands not yet written to the file) with a
//! dot wherever a background fsync was pending and a triangle wherever the server gave up
//! waiting for one (`aof_delayed_fsync` went up), the faults shaded as on every time chart;
//! and, for the fault list, what each killed or powered-off node's last sample said.
//!
//! This is the evidence for `appendfsync everysec`'s window (docs/persistence.md): while a
//! background fsync runs, Redis keeps its AOF buffer in memory (up to 2 s) and replies anyway,
//! so a kill or a power loss with a dot on the node's line and a buffer above zero loses what
//! that buffer held. Samples are 250 ms apart: a short pending fsync may fall between two.

use super::charts::{draw_legend, render_svg, time_chart, Figure, PALETTE};
use super::faults::FaultBand;
use super::replication::thin_by_max;
use crate::error::ReportError;
use plotters::prelude::*;
use redline_checkers::telemetry::{bytes, PersistenceSample, Telemetry};
use redline_checkers::Function;
use std::collections::HashSet;

/// How old a node's last sample may be to speak for the moment of a fault.
const LOOKBACK_NS: u64 = 1_000_000_000;

/// One node's series: buffer points (time s, bytes), pending-fsync points, and the moments its
/// delayed-fsync count went up.
struct Series {
    node: String,
    buffer: Vec<(f64, f64)>,
    pending: Vec<(f64, f64)>,
    delayed: Vec<f64>,
}

fn series(node: &str, samples: &[PersistenceSample], max_s: f64) -> Series {
    let seconds = |s: &PersistenceSample| s.time as f64 / 1e9;
    let mut buffer: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (seconds(s), s.persistence.aof_buffer_length as f64))
        .collect();
    if buffer.len() > 1_500 {
        buffer = thin_by_max(&buffer);
    }
    // One dot per 2-pixel column is all a reader can see.
    let mut columns = HashSet::new();
    let pending = samples
        .iter()
        .filter(|s| s.persistence.aof_pending_bio_fsync > 0)
        .map(|s| (seconds(s), s.persistence.aof_buffer_length as f64))
        .filter(|(t, _)| columns.insert((t / max_s * 480.0) as i64))
        .collect();
    // The counter restarts with the server: only a rise counts.
    let delayed = samples
        .windows(2)
        .filter(|w| w[1].persistence.aof_delayed_fsync > w[0].persistence.aof_delayed_fsync)
        .map(|w| seconds(&w[1]))
        .collect();
    Series {
        node: node.to_string(),
        buffer,
        pending,
        delayed,
    }
}

/// `n1: 48 samples, fsync pending in 12, AOF buffer up to 48 KB, 2 postponed writes`.
fn caption(node: &str, samples: &[PersistenceSample]) -> String {
    if samples.iter().all(|s| !s.persistence.aof_on()) {
        let changes = samples
            .iter()
            .map(|s| s.persistence.rdb_changes_since_last_save)
            .max()
            .unwrap_or(0);
        return format!(
            "{node}: AOF off, up to {changes} changes since the last RDB save ({} samples)",
            samples.len()
        );
    }
    let pending = samples
        .iter()
        .filter(|s| s.persistence.aof_pending_bio_fsync > 0)
        .count();
    let max_buffer = samples
        .iter()
        .map(|s| s.persistence.aof_buffer_length)
        .max()
        .unwrap_or(0);
    let rises = samples
        .windows(2)
        .filter(|w| w[1].persistence.aof_delayed_fsync > w[0].persistence.aof_delayed_fsync)
        .count();
    let errors = samples
        .iter()
        .filter(|s| s.persistence.aof_last_write_status != "ok")
        .count();
    let mut words = format!(
        "{node}: {} samples, fsync pending in {pending}, AOF buffer up to {}, {rises} AOF \
         writes postponed past 2 s",
        samples.len(),
        bytes(max_buffer)
    );
    if errors > 0 {
        words.push_str(&format!(", {errors} samples after a failed AOF write"));
    }
    words
}

/// The chart, or why it is left out.
pub fn persistence_chart(
    telemetry: &Telemetry,
    bands: &[FaultBand],
    max_s: f64,
) -> Result<Figure, ReportError> {
    let title = "AOF buffer and background fsyncs";
    if telemetry.is_empty() {
        return Ok(Figure::omitted(
            title,
            "no INFO persistence samples in the telemetry",
        ));
    }
    let captions: Vec<String> = telemetry
        .persistence()
        .map(|(n, s)| caption(n, s))
        .collect();
    let aof_nodes: Vec<Series> = telemetry
        .persistence()
        .filter(|(_, s)| s.iter().any(|s| s.persistence.aof_on()))
        .map(|(n, s)| series(n, s, max_s))
        .collect();
    if aof_nodes.is_empty() {
        return Ok(Figure::omitted(title, &captions.join("; ")));
    }
    let (max_s, y_max) = bounds(&aof_nodes, max_s);
    let svg = render_svg(title, |root| {
        let mut chart = time_chart(root, (max_s, y_max), 70, "AOF buffer (bytes)", bands)?;
        for (i, s) in aof_nodes.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    s.buffer.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(format!("{} buffer", s.node))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart
                .draw_series(s.pending.iter().map(|&p| Circle::new(p, 3, color.filled())))?
                .label(format!("{} fsync pending", s.node))
                .legend(move |(x, y)| Circle::new((x + 8, y), 3, color.filled()));
            let top = y_max * 0.93;
            chart
                .draw_series(
                    s.delayed
                        .iter()
                        .map(|&t| TriangleMarker::new((t, top), 6, color.filled())),
                )?
                .label(format!("{} write postponed > 2 s", s.node))
                .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 5, color.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    Ok(Figure {
        title: title.to_string(),
        svg: Some(svg),
        note: captions.join("; "),
    })
}

/// The chart's last second (at least the run's `max_s`) and the top of its buffer axis.
fn bounds(aof_nodes: &[Series], max_s: f64) -> (f64, f64) {
    let max_s = aof_nodes
        .iter()
        .flat_map(|s| &s.buffer)
        .map(|p| p.0)
        .fold(max_s, f64::max);
    let y_max = aof_nodes
        .iter()
        .flat_map(|s| &s.buffer)
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.25;
    (max_s, y_max)
}

/// What the last sample of each node a kill or a power loss took said, e.g. `n1: a background
/// fsync pending and 48 KB of AOF buffer unwritten (at 5012.3 ms)`; empty for other faults.
pub fn at_fault(telemetry: &Telemetry, band: &FaultBand) -> String {
    if !matches!(band.kind, Function::Kill | Function::PowerLoss) {
        return String::new();
    }
    let words: Vec<String> = band
        .nodes
        .iter()
        .map(
            |node| match telemetry.persistence_before(node, band.start) {
                Some(s) if band.start - s.time <= LOOKBACK_NS => {
                    let (had, _) = s.persistence.notable();
                    let what = if had.is_empty() {
                        "nothing pending, nothing buffered".to_string()
                    } else {
                        had.join(", ")
                    };
                    format!("{node}: {what} (at {:.1} ms)", s.time_ms())
                }
                _ => format!("{node}: no sample in the second before"),
            },
        )
        .collect();
    words.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::Op;
    use serde_json::json;

    fn sample(ms: u64, node: &str, persistence: serde_json::Value) -> Op {
        let value = json!({"role": "master", "persistence": persistence});
        redline_checkers::telemetry::sample_record(ms * 1_000_000, node, value)
    }

    fn telemetry() -> Telemetry {
        Telemetry::from_records(&[
            sample(250, "n1", json!({"aof_enabled": 1})),
            sample(
                500,
                "n1",
                json!({"aof_enabled": 1, "aof_pending_bio_fsync": 1,
                                     "aof_buffer_length": 48213}),
            ),
            sample(750, "n1", json!({"aof_enabled": 1, "aof_delayed_fsync": 1})),
            sample(
                500,
                "n2",
                json!({"aof_enabled": 0, "rdb_changes_since_last_save": 7}),
            ),
        ])
    }

    #[test]
    fn draws_buffers_pending_fsyncs_and_postponed_writes() {
        let t = telemetry();
        let n1 = t.persistence().next().unwrap().1;
        let s = series("n1", n1, 1.0);
        assert_eq!(s.pending, vec![(0.5, 48213.0)]);
        assert_eq!(s.delayed, vec![0.75]);
        let figure = persistence_chart(&t, &[], 1.0).unwrap();
        assert!(figure.svg.is_some());
        assert_eq!(
            figure.note,
            "n1: 3 samples, fsync pending in 1, AOF buffer up to 48 KB, 1 AOF writes postponed \
             past 2 s; n2: AOF off, up to 7 changes since the last RDB save (1 samples)"
        );
        let none = persistence_chart(&Telemetry::default(), &[], 1.0).unwrap();
        assert!(none.svg.is_none());
    }

    #[test]
    fn says_what_a_killed_node_held() {
        let band = |kind: Function, ms: u64| FaultBand {
            kind,
            label: String::new(),
            nodes: vec!["n1".into(), "n2".into()],
            start: ms * 1_000_000,
            end: ms * 1_000_000,
            instant: false,
            healed: true,
        };
        assert_eq!(
            at_fault(&telemetry(), &band(Function::Kill, 600)),
            "n1: a background fsync pending, 48 KB of AOF buffer unwritten (at 500.0 ms); \
             n2: AOF off and 7 changes since its last RDB save (at 500.0 ms)"
        );
        assert_eq!(
            at_fault(&telemetry(), &band(Function::PowerLoss, 2000)),
            "n1: no sample in the second before; n2: no sample in the second before"
        );
        assert_eq!(at_fault(&telemetry(), &band(Function::Pause, 600)), "");
    }
}
