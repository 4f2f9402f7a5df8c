//! Time charts drawn with plotters' SVG backend: latency per `f` and throughput, each with every
//! fault interval shaded and labelled, plus the shared drawing plumbing of the other charts.
//!
//! Size is bounded whatever the history's length: latency points are thinned to one per
//! 4×4-pixel cell per outcome (a cell already holding a point of that outcome adds nothing a
//! reader can see), and throughput is bucketed in time. Captions say how many points were drawn
//! of how many operations, so thinning is never silent.

use super::faults::FaultBand;
use crate::error::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use redline_checkers::{Function, History, OpType};
use std::collections::{BTreeMap, HashSet};

/// One chart of the page: an inline SVG, or the reason it was left out.
#[derive(Debug, Clone)]
pub struct Figure {
    pub title: String,
    /// The `<svg>` element, `None` when there was nothing to draw.
    pub svg: Option<String>,
    /// A one-line caption: what is drawn, or why the chart is omitted.
    pub note: String,
}

impl Figure {
    /// A chart left out for want of data.
    pub fn omitted(title: &str, note: &str) -> Figure {
        Figure {
            title: title.to_string(),
            svg: None,
            note: note.to_string(),
        }
    }
}

pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A linear chart's coordinates: seconds of the run by a value.
pub(crate) type TimeCoord =
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>;

/// The frame every linear chart over the run's time shares: `0..max_s` seconds by `0..y_max`,
/// axes labelled, and the run's faults shaded behind the series still to be drawn.
pub(crate) fn time_chart<'a, 'b>(
    root: &'a Area<'b>,
    (max_s, y_max): (f64, f64),
    y_label_px: u32,
    y_desc: &str,
    bands: &[FaultBand],
) -> Result<ChartContext<'a, SVGBackend<'b>, TimeCoord>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(y_label_px)
        .build_cartesian_2d(0.0..max_s, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(y_desc)
        .draw()?;
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    draw_fault_bands(root, &TimeAxis { x_px, y_px, max_s }, bands)?;
    Ok(chart)
}

/// Draws a chart's legend, boxed on a light background, at `position`: every chart's one look.
pub(crate) fn draw_legend<'a, 'b: 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .position(position)
        .draw()?;
    Ok(())
}

pub(crate) const WIDTH: u32 = 960;
pub(crate) const HEIGHT: u32 = 340;
pub(crate) const OK_COLOR: RGBColor = RGBColor(46, 139, 87);
pub(crate) const FAIL_COLOR: RGBColor = RGBColor(214, 39, 40);
pub(crate) const INFO_COLOR: RGBColor = RGBColor(255, 140, 0);
/// Series colours for nodes and quantiles, distinguishable in print.
pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// Draws into an SVG string and returns the `<svg>` element, without its `xmlns` attribute
/// (inline SVG in HTML needs none, and the page then names no URL at all).
pub(crate) fn render_svg(
    chart: &str,
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<String, ReportError> {
    render_svg_sized(chart, (WIDTH, HEIGHT), draw)
}

/// [`render_svg`] at a size of the chart's own (a chart whose rows grow with its data).
pub(crate) fn render_svg_sized(
    chart: &str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| -> Box<dyn std::error::Error> { Box::new(e) })
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.into()));
        drawn.map_err(|e| ReportError::Chart {
            chart: chart.to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(svg.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1))
}

/// Maps run time (seconds) to pixels of a chart's plotting area.
pub(crate) struct TimeAxis {
    pub x_px: std::ops::Range<i32>,
    pub y_px: std::ops::Range<i32>,
    pub max_s: f64,
}

impl TimeAxis {
    fn px(&self, seconds: f64) -> i32 {
        let span = f64::from(self.x_px.end - self.x_px.start);
        self.x_px.start + (seconds / self.max_s * span).round() as i32
    }
}

fn band_color(kind: &Function) -> RGBColor {
    match kind {
        Function::Kill | Function::PowerLoss => RGBColor(214, 39, 40),
        Function::Pause => RGBColor(148, 103, 189),
        Function::Partition => RGBColor(31, 119, 180),
        Function::Delay => RGBColor(188, 189, 34),
        _ => RGBColor(90, 90, 90),
    }
}

/// Shades every fault interval and marks every instant, with its label at the top of the band.
/// Labels are staggered over three rows so that close faults stay legible.
pub(crate) fn draw_fault_bands(
    root: &Area<'_>,
    axis: &TimeAxis,
    bands: &[FaultBand],
) -> DrawResult {
    let (top, bottom) = (axis.y_px.start, axis.y_px.end);
    for (i, band) in bands.iter().enumerate() {
        let color = band_color(&band.kind);
        let x0 = axis.px(band.start as f64 / 1e9);
        let x1 = axis.px(band.end as f64 / 1e9).max(x0 + 1);
        if band.instant {
            root.draw(&PathElement::new(
                vec![(x0, top), (x0, bottom)],
                color.stroke_width(2),
            ))?;
        } else {
            root.draw(&Rectangle::new(
                [(x0, top), (x1, bottom)],
                color.mix(0.13).filled(),
            ))?;
        }
        let row = (i % 3) as i32;
        let text_color = color.mix(0.95);
        let style = TextStyle::from(("sans-serif", 13).into_font()).color(&text_color);
        // Near the right edge, hang the label leftwards from the band's start instead.
        let label_px = band.label.chars().count() as i32 * 6;
        let (x, style) = if x0 + 3 + label_px > axis.x_px.end {
            (x0 - 3, style.pos(Pos::new(HPos::Right, VPos::Top)))
        } else {
            (x0 + 3, style)
        };
        root.draw(&Text::new(
            band.label.clone(),
            (x, top + 3 + 14 * row),
            style,
        ))?;
    }
    Ok(())
}

fn outcome_color(outcome: OpType) -> RGBColor {
    match outcome {
        OpType::Ok => OK_COLOR,
        OpType::Fail => FAIL_COLOR,
        _ => INFO_COLOR,
    }
}

/// Latency points of one `f`: (invocation time s, latency ms, outcome).
type LatencyPoints = Vec<(f64, f64, OpType)>;

/// Latency over time, one chart per `f`, points coloured by outcome. Operations that never
/// completed have no latency and are counted in the caption instead.
pub fn latency_charts(
    history: &History,
    bands: &[FaultBand],
    max_s: f64,
) -> Result<Vec<Figure>, ReportError> {
    let mut by_f: BTreeMap<String, LatencyPoints> = BTreeMap::new();
    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    for op in history.operations() {
        match op.completion {
            Some(c) => by_f.entry(op.invoke.f.to_string()).or_default().push((
                op.invoke.time as f64 / 1e9,
                c.time.saturating_sub(op.invoke.time) as f64 / 1e6,
                c.op_type,
            )),
            None => *open.entry(op.invoke.f.to_string()).or_default() += 1,
        }
    }
    if by_f.is_empty() {
        return Ok(vec![Figure::omitted(
            "latency",
            "no completed client operations",
        )]);
    }
    let mut figures = Vec::new();
    for (f, points) in by_f {
        let title = format!("latency of {f}");
        let never = open.get(&f).copied().unwrap_or(0);
        figures.push(latency_chart(&title, &points, never, bands, max_s)?);
    }
    Ok(figures)
}

fn latency_chart(
    title: &str,
    points: &[(f64, f64, OpType)],
    never_completed: u64,
    bands: &[FaultBand],
    max_s: f64,
) -> Result<Figure, ReportError> {
    let ((y_lo, y_hi), drawn) = thinned_latencies(points, max_s);
    let svg = render_svg(title, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max_s, (y_lo..y_hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("latency (ms)")
            .draw()?;
        let (x_px, y_px) = chart.plotting_area().get_pixel_range();
        draw_fault_bands(root, &TimeAxis { x_px, y_px, max_s }, bands)?;
        for outcome in [OpType::Ok, OpType::Info, OpType::Fail] {
            let color = outcome_color(outcome);
            chart
                .draw_series(
                    drawn
                        .iter()
                        .filter(|p| p.2 == outcome)
                        .map(|&(x, y, _)| Circle::new((x, y), 2, color.filled())),
                )?
                .label(outcome.as_str())
                .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    let mut note = format!(
        "{} completed operations, {} points drawn (one per 4×4 px cell and outcome)",
        points.len(),
        drawn.len()
    );
    if never_completed > 0 {
        note.push_str(&format!(
            "; {never_completed} never completed (info, no latency)"
        ));
    }
    Ok(Figure {
        title: title.to_string(),
        svg: Some(svg),
        note,
    })
}

/// A point of the latency chart: seconds into the run, latency in ms, outcome.
type LatencyPoint = (f64, f64, OpType);

/// The latency axis's log-scale bounds and the points worth drawing: one per 4×4 px cell and
/// outcome, so a chart of millions of operations stays small.
fn thinned_latencies(points: &[(f64, f64, OpType)], max_s: f64) -> ((f64, f64), Vec<LatencyPoint>) {
    // Log scale: sub-millisecond successes and multi-second timeouts on one chart.
    let min = points
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .max(0.001);
    let max = points
        .iter()
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(min * 10.0);
    let (y_lo, y_hi) = (min / 1.5, max * 1.5);
    let mut cells = HashSet::new();
    let mut drawn: Vec<LatencyPoint> = Vec::new();
    // Draw order ok, info, fail: the rare outcomes stay on top.
    for outcome in [OpType::Ok, OpType::Info, OpType::Fail] {
        for &(x, y, o) in points.iter().filter(|p| p.2 == outcome) {
            let cx = (x / max_s * f64::from(WIDTH) / 4.0) as i64;
            let cy =
                ((y.max(y_lo) / y_lo).ln() / (y_hi / y_lo).ln() * f64::from(HEIGHT) / 4.0) as i64;
            if cells.insert((o as u8, cx, cy)) {
                drawn.push((x, y.max(y_lo), o));
            }
        }
    }
    ((y_lo, y_hi), drawn)
}

/// Completed operations per second by outcome, in up to 200 time buckets.
pub fn throughput_chart(
    history: &History,
    bands: &[FaultBand],
    max_s: f64,
) -> Result<Figure, ReportError> {
    const BUCKETS: usize = 200;
    let title = "throughput";
    let bucket_s = (max_s / BUCKETS as f64).max(1e-3);
    let mut series: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    let mut total = 0u64;
    for op in history.operations() {
        let Some(c) = op.completion else { continue };
        let bucket = ((c.time as f64 / 1e9 / bucket_s) as usize).min(BUCKETS - 1);
        series
            .entry(c.op_type as u8)
            .or_insert_with(|| vec![0; BUCKETS])[bucket] += 1;
        total += 1;
    }
    if total == 0 {
        return Ok(Figure::omitted(title, "no completed client operations"));
    }
    let rate = |n: u64| n as f64 / bucket_s;
    let y_max = series
        .values()
        .flatten()
        .map(|&n| rate(n))
        .fold(0.0, f64::max)
        * 1.15;
    let svg = render_svg(title, |root| {
        let mut chart = time_chart(root, (max_s, y_max.max(1.0)), 60, "ops/s", bands)?;
        for outcome in [OpType::Ok, OpType::Info, OpType::Fail] {
            let Some(counts) = series.get(&(outcome as u8)) else {
                continue;
            };
            let color = outcome_color(outcome);
            let line = counts
                .iter()
                .enumerate()
                .map(|(i, &n)| ((i as f64 + 0.5) * bucket_s, rate(n)));
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))?
                .label(outcome.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })?;
    let note = format!(
        "{total} completions, by completion time, in {:.0} ms buckets",
        bucket_s * 1e3
    );
    Ok(Figure {
        title: title.to_string(),
        svg: Some(svg),
        note,
    })
}
