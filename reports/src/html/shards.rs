//! The shard view of a Redis Cluster run, from the `shards` checker's statistics and the
//! split-brain checker's slot ranges; absent from a standalone run's page (the `shards`
//! checker is skipped there).
//!
//! - a **primary timeline**: one lane per shard, coloured by the node that was its primary
//!   from when to when (the topology telemetry's view), with every fault shaded as on the other
//!   time charts;
//! - a **table per shard**: its slots (at the start, and at the end when they moved), nodes,
//!   primaries with their config epochs, client operations on its slots by outcome, the writes
//!   each node acknowledged, and the acknowledged writes lost from its keys;
//! - the **split-brain slot ranges**, each linked to its anomaly.
//!
//! Size is bounded whatever the run's length: the lanes draw at most [`MAX_SPANS`] primary
//! spans per shard and the tables list at most [`MAX_LISTED`] spans per shard and ranges in
//! all, each with a note counting the rest, which `results.json` holds.

use super::anomalies::anomaly_anchor;
use super::charts::{draw_fault_bands, draw_legend, render_svg_sized, Area, DrawResult};
use super::charts::{Figure, TimeAxis, PALETTE, WIDTH};
use super::faults::FaultBand;
use super::{escape, ANOMALIES_SHOWN_PER_CHECKER};
use crate::error::ReportError;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use redline_checkers::history::cluster_value::ranges_words;
use redline_checkers::{Anomaly, Results};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Primary spans drawn per shard lane.
const MAX_SPANS: usize = 400;
/// Primary spans listed per shard, and split-brain ranges listed, in the tables.
const MAX_LISTED: usize = 20;
/// Nodes named in the legend; beyond, the lanes name them inside their spans.
const MAX_LEGEND: usize = 12;

/// One shard as the `shards` checker reports it (`checkers.shards.stats.shards[]`).
#[derive(Debug, Deserialize)]
pub struct Shard {
    pub shard: u64,
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub slots_start: Vec<(u16, u16)>,
    #[serde(default)]
    pub slots_end: Vec<(u16, u16)>,
    #[serde(default)]
    pub primaries: Vec<Span>,
    #[serde(default)]
    pub ops: BTreeMap<String, u64>,
    #[serde(default)]
    pub acknowledged_by: BTreeMap<String, u64>,
    #[serde(default)]
    pub lost: u64,
}

/// A node's time as its shard's primary; `to_ms` is `None` when it lasted to the end.
#[derive(Debug, Deserialize)]
pub struct Span {
    pub node: String,
    pub epoch: u64,
    pub from_ms: f64,
    pub to_ms: Option<f64>,
}

/// The shards of a cluster run, `None` for any other run (the checker skipped or absent).
pub fn shards_of(results: &Results) -> Option<Vec<Shard>> {
    let r = results.checkers.get("shards")?;
    if r.skipped.is_some() {
        return None;
    }
    serde_json::from_value(r.stats.get("shards")?.clone()).ok()
}

/// Writes the section, or nothing for a run that is not a cluster run.
pub fn section(
    out: &mut String,
    results: &Results,
    bands: &[FaultBand],
    max_s: f64,
) -> Result<(), ReportError> {
    let Some(shards) = shards_of(results) else {
        return Ok(());
    };
    let figure = primary_chart(&shards, bands, max_s)?;
    let w = &mut *out;
    writeln!(w, "<section id=\"shards\"><h2>shards</h2>")?;
    if let Some(svg) = &figure.svg {
        writeln!(
            w,
            "<figure class=\"chart\" id=\"primary-timeline\"><figcaption>{}</figcaption>{svg}\
             <p class=\"note\">{}</p></figure>",
            escape(&figure.title),
            escape(&figure.note)
        )?;
    }
    shard_table(w, &shards)?;
    split_brain_ranges(w, results, &shards)?;
    writeln!(w, "</section>")?;
    Ok(())
}

/// `0-5460, 6000` from `[lo, hi]` ranges, or `none`.
fn ranges_text(ranges: &[(u16, u16)]) -> String {
    match ranges.is_empty() {
        true => "none".to_string(),
        false => ranges_words(ranges),
    }
}

fn span_text(s: &Span) -> String {
    match s.to_ms {
        Some(to) => format!(
            "{} (epoch {}) {:.1}–{:.1} ms",
            s.node, s.epoch, s.from_ms, to
        ),
        None => format!("{} (epoch {}) from {:.1} ms", s.node, s.epoch, s.from_ms),
    }
}

fn shard_table(out: &mut String, shards: &[Shard]) -> std::fmt::Result {
    writeln!(
        out,
        "<table class=\"shards\"><tr><th>shard</th><th>slots</th><th>nodes</th><th>primaries</th>\
         <th>ok</th><th>fail</th><th>info</th><th>acknowledged writes</th><th>lost writes</th></tr>"
    )?;
    for s in shards {
        let mut slots = ranges_text(&s.slots_start);
        if s.slots_end != s.slots_start {
            slots = format!(
                "{slots} at the start; {} at the end",
                ranges_text(&s.slots_end)
            );
        }
        let mut primaries: Vec<String> = s
            .primaries
            .iter()
            .take(MAX_LISTED)
            .map(|p| escape(&span_text(p)))
            .collect();
        if s.primaries.len() > MAX_LISTED {
            primaries.push(format!(
                "and {} more (results.json)",
                s.primaries.len() - MAX_LISTED
            ));
        }
        let acked: Vec<String> = s
            .acknowledged_by
            .iter()
            .map(|(n, c)| format!("{} {c}", escape(n)))
            .collect();
        let count = |k: &str| s.ops.get(k).copied().unwrap_or(0);
        writeln!(
            out,
            "<tr id=\"shard-{}\"><td class=\"num\">{0}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td class=\"num{}\">{}</td></tr>",
            s.shard,
            escape(&slots),
            escape(&s.nodes.join(", ")),
            primaries.join("<br>"),
            count("ok"),
            count("fail"),
            count("info"),
            acked.join(", "),
            if s.lost > 0 { " fail" } else { "" },
            s.lost
        )?;
    }
    writeln!(out, "</table>")
}

/// The shard whose slots (at the start or the end) hold `slot`.
fn shard_holding(shards: &[Shard], slot: u16) -> Option<u64> {
    let holds = |r: &[(u16, u16)]| r.iter().any(|&(lo, hi)| (lo..=hi).contains(&slot));
    shards
        .iter()
        .find(|s| holds(&s.slots_start) || holds(&s.slots_end))
        .map(|s| s.shard)
}

fn split_brain_ranges(out: &mut String, results: &Results, shards: &[Shard]) -> std::fmt::Result {
    let anomalies: &[Anomaly] = results
        .checkers
        .get("split-brain")
        .map_or(&[], |r| r.anomalies.as_slice());
    let ranged: Vec<(usize, &Anomaly)> = anomalies
        .iter()
        .enumerate()
        .filter(|(_, a)| a.details.get("slot_range").is_some())
        .collect();
    writeln!(
        out,
        "<h3 id=\"split-brain-ranges\">split-brain by slot range</h3>"
    )?;
    if ranged.is_empty() {
        return writeln!(
            out,
            "<p class=\"note\">No slot had two nodes acknowledging its writes at once.</p>"
        );
    }
    writeln!(
        out,
        "<table class=\"split-brain\"><tr><th>anomaly</th><th>slots</th><th>shard</th>\
         <th>nodes</th><th>from (ms)</th><th>to (ms)</th><th>slots showing it</th></tr>"
    )?;
    for (n, a) in ranged.iter().take(MAX_LISTED) {
        let d = &a.details;
        let slot = |i: usize| {
            d["slot_range"][i]
                .as_u64()
                .and_then(|v| u16::try_from(v).ok())
        };
        let lo = slot(0).unwrap_or(0);
        let hi = slot(1).unwrap_or(lo);
        let nodes: Vec<&str> = d["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        let link = match *n < ANOMALIES_SHOWN_PER_CHECKER {
            true => format!(
                "<a href=\"#{}\">split-brain #{}</a>",
                escape(&anomaly_anchor("split-brain", *n)),
                n + 1
            ),
            false => format!("split-brain #{}", n + 1),
        };
        let shard = shard_holding(shards, lo).map_or(String::new(), |s| s.to_string());
        let slots = ranges_words(&[(lo, hi)]);
        writeln!(
            out,
            "<tr><td>{link}</td><td>{slots}</td><td class=\"num\">{shard}</td><td>{}</td>\
             <td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td></tr>",
            escape(&nodes.join(" and ")),
            d["start_ms"].as_f64().unwrap_or(0.0),
            d["end_ms"].as_f64().unwrap_or(0.0),
            d["slot_count"].as_u64().unwrap_or(1)
        )?;
    }
    writeln!(out, "</table>")?;
    if ranged.len() > MAX_LISTED {
        writeln!(
            out,
            "<p class=\"note\">{} more ranges are listed with the split-brain anomalies and in \
             results.json.</p>",
            ranged.len() - MAX_LISTED
        )?;
    }
    Ok(())
}

/// The primary timeline: one lane per shard, a bar per primary span coloured by its node.
pub fn primary_chart(
    shards: &[Shard],
    bands: &[FaultBand],
    max_s: f64,
) -> Result<Figure, ReportError> {
    let title = "primary per shard";
    if shards.iter().all(|s| s.primaries.is_empty()) {
        return Ok(Figure::omitted(title, "no topology record named a primary"));
    }
    let end_s = shards
        .iter()
        .flat_map(|s| &s.primaries)
        .map(|p| p.to_ms.unwrap_or(p.from_ms) / 1e3)
        .fold(max_s, f64::max);
    let mut nodes: Vec<&str> = shards
        .iter()
        .flat_map(|s| s.primaries.iter().map(|p| p.node.as_str()))
        .collect();
    nodes.sort_by_key(|n| (n.len(), *n));
    nodes.dedup();
    let lanes = Lanes {
        shards,
        legend: nodes.len() <= MAX_LEGEND,
        nodes,
        end_s,
        // Room on the right for the legend, past the run's end.
        x_max: end_s * 1.15,
    };
    let legend_px = if lanes.legend {
        60 + 20 * lanes.nodes.len() as u32
    } else {
        0
    };
    let height = (90 + 36 * shards.len() as u32)
        .max(legend_px)
        .clamp(200, 1_200);
    let svg = render_svg_sized(title, (WIDTH, height), |root| lanes.draw(root, bands))?;
    let mut note = format!(
        "{} shards; each lane is coloured by the node its topology records name as the shard's \
         primary (the node claiming its slots with the highest config epoch), from the record \
         that first showed it; records are sampled every 250 ms, so a change shows up to about \
         half a second late. Faults are shaded as on the other charts.",
        shards.len()
    );
    let omitted: usize = shards
        .iter()
        .map(|s| s.primaries.len().saturating_sub(MAX_SPANS))
        .sum();
    if omitted > 0 {
        let _ = write!(
            note,
            " {omitted} spans beyond {MAX_SPANS} per shard are not drawn."
        );
    }
    Ok(Figure {
        title: title.to_string(),
        svg: Some(svg),
        note,
    })
}

type LaneChart<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordi32>>>;

/// What the lane chart draws.
struct Lanes<'s> {
    shards: &'s [Shard],
    /// Every node that was a primary, each with its colour's index.
    nodes: Vec<&'s str>,
    end_s: f64,
    x_max: f64,
    legend: bool,
}

impl Lanes<'_> {
    fn rows(&self) -> i32 {
        self.shards.len() as i32
    }

    fn draw(&self, root: &Area<'_>, bands: &[FaultBand]) -> DrawResult {
        let rows = self.rows();
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..self.x_max, (0..rows).into_segmented())?;
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(r) => self
                .shards
                .get((rows - 1 - r) as usize)
                .map_or(String::new(), |s| format!("shard {}", s.shard)),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&label)
            .x_desc("time (s)")
            .draw()?;
        for (i, node) in self.nodes.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            self.draw_spans(root, &chart, node, color)?;
            if self.legend {
                // An empty series, for the legend entry alone.
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, SegmentValue<i32>), i32>>())?
                    .label(*node)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
                    });
            }
        }
        let (x_px, y_px) = chart.plotting_area().get_pixel_range();
        let axis = TimeAxis {
            x_px,
            y_px,
            max_s: self.x_max,
        };
        draw_fault_bands(root, &axis, bands)?;
        if self.legend {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }

    /// `node`'s spans as primary, a bar in its shard's lane each, named when wide enough.
    fn draw_spans(
        &self,
        root: &Area<'_>,
        chart: &LaneChart<'_>,
        node: &str,
        color: RGBColor,
    ) -> DrawResult {
        let text = TextStyle::from(("sans-serif", 13).into_font())
            .color(&WHITE)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, s) in self.shards.iter().enumerate() {
            let row = self.rows() - 1 - i as i32;
            let spans = s.primaries.iter().take(MAX_SPANS);
            for p in spans.filter(|p| p.node == node) {
                let to_s = p.to_ms.map_or(self.end_s, |t| t / 1e3);
                let top = chart.backend_coord(&(p.from_ms / 1e3, SegmentValue::Exact(row + 1)));
                let bottom = chart.backend_coord(&(to_s, SegmentValue::Exact(row)));
                let (x0, x1) = (top.0, bottom.0.max(top.0 + 1));
                root.draw(&Rectangle::new(
                    [(x0, top.1 + 4), (x1, bottom.1 - 4)],
                    color.mix(0.85).filled(),
                ))?;
                if x1 - x0 > 8 * node.len() as i32 + 8 {
                    let mid = (top.1 + bottom.1) / 2;
                    root.draw(&Text::new(node.to_string(), (x0 + 4, mid), text.clone()))?;
                }
            }
        }
        Ok(())
    }
}
