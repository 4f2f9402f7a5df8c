//! The timeline of operations, built to stay readable (and small) at 10^6 operations.
//!
//! Two views, neither of which drops operations silently:
//! - **lanes**: one row per client lane, the run cut into 100 time buckets; each cell is
//!   coloured by the share of its operations that ended fail or info, and its tooltip gives
//!   the counts. Lanes are client processes modulo the concurrency (a process that crashed with
//!   `info` continues as process + concurrency, so it stays on its worker's row); with more than
//!   64 lanes, lanes are folded modulo 64. A nemesis row marks buckets with a fault in effect.
//! - **windows**: every record within 5 positions of a witness op (or of its partner record),
//!   merged where they overlap, each record with an `id="op-<index>"` anchor that the anomaly
//!   tables link to and a back-link to the anomalies citing it. Capped at 5,000 rows, with a
//!   note counting the witnesses left out.

use super::anomalies::anomaly_anchor;
use super::faults::FaultBand;
use super::{escape, position_of, short_value, ANOMALIES_SHOWN_PER_CHECKER};
use redline_checkers::{History, OpType, Results};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write};

const BUCKETS: usize = 100;
const MAX_LANES: u64 = 64;
/// Records shown on each side of a witness.
const CONTEXT: usize = 5;
const MAX_WINDOW_ROWS: usize = 5_000;

/// The detailed windows around the witness ops of the anomalies shown on the page.
#[derive(Debug, Default)]
pub struct Windows {
    /// Inclusive ranges of positions in `history.ops()`, ascending and disjoint.
    pub ranges: Vec<(usize, usize)>,
    /// Op indices that have an anchor on the page.
    pub anchored: HashSet<u64>,
    /// For each witness op index, the anomalies citing it: (checker, 0-based anomaly number).
    pub cited_by: HashMap<u64, Vec<(String, usize)>>,
    /// Witness records left outside the windows by the row cap.
    pub omitted_witnesses: usize,
}

/// Works out which records to show around the witnesses.
pub fn witness_windows(history: &History, results: &Results) -> Windows {
    let mut windows = Windows::default();
    let mut positions = BTreeSet::new();
    for (checker, result) in &results.checkers {
        for (n, anomaly) in result
            .anomalies
            .iter()
            .take(ANOMALIES_SHOWN_PER_CHECKER)
            .enumerate()
        {
            for &index in &anomaly.ops {
                windows
                    .cited_by
                    .entry(index)
                    .or_default()
                    .push((checker.clone(), n));
                if let Some(pos) = position_of(history, index) {
                    positions.insert(pos);
                    positions.extend(history.partner(pos));
                }
            }
        }
    }
    let last = history.len().saturating_sub(1);
    let mut rows = 0;
    for &pos in &positions {
        let (start, end) = (pos.saturating_sub(CONTEXT), (pos + CONTEXT).min(last));
        match windows.ranges.last_mut() {
            Some(prev) if start <= prev.1 + 1 => {
                rows += end.saturating_sub(prev.1);
                prev.1 = prev.1.max(end);
            }
            _ if rows >= MAX_WINDOW_ROWS => windows.omitted_witnesses += 1,
            _ => {
                rows += end - start + 1;
                windows.ranges.push((start, end));
            }
        }
    }
    for &(start, end) in &windows.ranges {
        windows
            .anchored
            .extend(history.ops()[start..=end].iter().map(|o| o.index));
    }
    windows
}

/// Per-lane outcome counts (ok, info, fail) per time bucket.
type LaneCounts = BTreeMap<u64, Vec<[u32; 3]>>;

fn lane_counts(
    history: &History,
    concurrency: Option<u64>,
    bucket_ns: f64,
) -> (LaneCounts, Option<u64>) {
    let processes: BTreeSet<u64> = history
        .operations()
        .filter_map(|o| o.invoke.process.client())
        .collect();
    let modulus = match concurrency {
        Some(c) => Some(c.min(MAX_LANES)),
        None if processes.len() as u64 > MAX_LANES => Some(MAX_LANES),
        None => None,
    };
    let mut lanes: LaneCounts = BTreeMap::new();
    for op in history.operations() {
        let Some(process) = op.invoke.process.client() else {
            continue;
        };
        let lane = modulus.map_or(process, |m| process % m);
        let bucket = ((op.invoke.time as f64 / bucket_ns) as usize).min(BUCKETS - 1);
        let slot = match op.outcome() {
            OpType::Ok => 0,
            OpType::Fail => 2,
            _ => 1,
        };
        lanes.entry(lane).or_insert_with(|| vec![[0; 3]; BUCKETS])[bucket][slot] += 1;
    }
    (lanes, modulus)
}

/// A cell's colour class by the share of operations that did not end ok: `o` none, `l` under
/// 5%, `m` under 50%, `h` half or more. A share, not "any": at 10^6 operations every bucket
/// holds some failure, and a lane of solid red would hide where the failures concentrate.
fn cell_class(ok: u32, info: u32, fail: u32) -> &'static str {
    let total = ok + info + fail;
    let bad = f64::from(info + fail) / f64::from(total.max(1));
    match () {
        _ if total == 0 => "",
        _ if bad == 0.0 => "o",
        _ if bad < 0.05 => "l",
        _ if bad < 0.5 => "m",
        _ => "h",
    }
}

/// Writes the lane summary.
pub fn lanes(
    out: &mut String,
    history: &History,
    concurrency: Option<u64>,
    bands: &[FaultBand],
) -> fmt::Result {
    writeln!(out, "<h2 id=\"timeline\">timeline</h2>")?;
    let end = history.end_time().max(1) as f64;
    let bucket_ns = end / BUCKETS as f64;
    let (lanes, modulus) = lane_counts(history, concurrency, bucket_ns);
    if lanes.is_empty() {
        return writeln!(out, "<p class=\"note\">No client operations.</p>");
    }
    let folding = modulus.map_or(String::from("client process"), |m| {
        format!("client process mod {m}")
    });
    writeln!(
        out,
        "<p class=\"note\">One row per lane ({folding}), one cell per {:.0} ms by invocation time: \
         green all ok; pale, mid and dark red when under 5%, under 50% or at least half of the \
         operations ended fail or info; the tooltip gives the counts. \
         The nemesis row marks time with a fault in effect.</p>",
        bucket_ns / 1e6
    )?;
    write!(out, "<table class=\"lanes\"><tr><th></th>")?;
    for b in (0..BUCKETS).step_by(10) {
        write!(
            out,
            "<th colspan=\"10\">{:.1} s</th>",
            b as f64 * bucket_ns / 1e9
        )?;
    }
    writeln!(out, "</tr>")?;
    for (lane, buckets) in &lanes {
        write!(out, "<tr><th>{lane}</th>")?;
        for (b, [ok, info, fail]) in buckets.iter().enumerate() {
            let class = cell_class(*ok, *info, *fail);
            if class.is_empty() {
                out.push_str("<td></td>");
            } else {
                write!(
                    out,
                    "<td class=\"{class}\" title=\"{lane} @ {:.1} s: {ok} ok, {info} info, {fail} fail\"></td>",
                    b as f64 * bucket_ns / 1e9
                )?;
            }
        }
        writeln!(out, "</tr>")?;
    }
    write!(out, "<tr><th>nemesis</th>")?;
    for b in 0..BUCKETS {
        let (from, to) = (b as f64 * bucket_ns, (b + 1) as f64 * bucket_ns);
        let active: Vec<&str> = bands
            .iter()
            .filter(|f| (f.start as f64) < to && (f.end as f64) >= from)
            .map(|f| f.label.as_str())
            .collect();
        if active.is_empty() {
            out.push_str("<td></td>");
        } else {
            write!(
                out,
                "<td class=\"n\" title=\"{}\"></td>",
                escape(&active.join(", "))
            )?;
        }
    }
    writeln!(out, "</tr></table>")
}

/// Writes the detailed windows around the witnesses.
pub fn windows(out: &mut String, history: &History, windows: &Windows) -> fmt::Result {
    if windows.ranges.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<h2 id=\"witness-windows\">operations around the witnesses</h2>"
    )?;
    if windows.omitted_witnesses > 0 {
        writeln!(
            out,
            "<p class=\"note\">{} witness records lie beyond the {MAX_WINDOW_ROWS}-row limit of \
             this section; their anomalies list them above without a link.</p>",
            windows.omitted_witnesses
        )?;
    }
    for &(start, end) in &windows.ranges {
        let ops = &history.ops()[start..=end];
        writeln!(
            out,
            "<div class=\"window\"><h3>records {}–{} ({:.3}–{:.3} ms)</h3>",
            ops[0].index,
            ops[ops.len() - 1].index,
            ops[0].time_ms(),
            ops[ops.len() - 1].time_ms()
        )?;
        writeln!(
            out,
            "<table class=\"witnesses\"><tr><th>op</th><th>time (ms)</th><th>process</th><th>type</th>\
             <th>f</th><th>key</th><th>value</th><th>node</th><th>error</th><th>cited by</th></tr>"
        )?;
        for op in ops {
            let cited = windows.cited_by.get(&op.index);
            let links: Vec<String> = cited
                .into_iter()
                .flatten()
                .map(|(checker, n)| {
                    format!(
                        "<a href=\"#{}\">{} #{}</a>",
                        escape(&anomaly_anchor(checker, *n)),
                        escape(checker),
                        n + 1
                    )
                })
                .collect();
            let ty = op.op_type.as_str();
            writeln!(
                out,
                "<tr id=\"op-{}\"{}><td class=\"num\">{0}</td><td class=\"num\">{:.3}</td><td>{}</td>\
                 <td class=\"{ty}\">{ty}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                op.index,
                if cited.is_some() { " class=\"witness\"" } else { "" },
                op.time_ms(),
                op.process,
                escape(op.f.as_str()),
                escape(op.key.as_deref().unwrap_or("")),
                escape(&short_value(&op.value, 160)),
                escape(op.node.as_deref().unwrap_or("")),
                escape(op.error.as_deref().unwrap_or("")),
                links.join(" ")
            )?;
        }
        writeln!(out, "</table></div>")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::{Anomaly, CheckResult, Op, Process};

    #[test]
    fn cells_are_shaded_by_share_not_by_any_failure() {
        assert_eq!(cell_class(0, 0, 0), "");
        assert_eq!(cell_class(10, 0, 0), "o");
        assert_eq!(cell_class(99, 0, 1), "l");
        assert_eq!(cell_class(9, 1, 0), "m");
        assert_eq!(cell_class(1, 0, 1), "h");
    }

    #[test]
    fn windows_cover_witnesses_and_partners_and_merge() {
        let mut ops = Vec::new();
        for i in 0..40u64 {
            let t = if i % 2 == 0 {
                OpType::Invoke
            } else {
                OpType::Ok
            };
            ops.push(Op::new(i, i, Process::Client(0), t, "add"));
        }
        let history = History::new(ops).unwrap();
        let mut checkers = BTreeMap::new();
        let anomalies = vec![
            Anomaly::new("lost", vec![2], String::new()),
            Anomaly::new("lost", vec![6], String::new()),
            Anomaly::new("lost", vec![30, 99], String::new()),
        ];
        checkers.insert(
            "lost-writes".to_string(),
            CheckResult::from_anomalies(anomalies, Default::default()),
        );
        let windows = witness_windows(&history, &Results::new(checkers));
        // 2 (partner 3) and 6 (partner 7) merge into 0..=12; 30 (partner 31) is 25..=36.
        assert_eq!(windows.ranges, vec![(0, 12), (25, 36)]);
        assert!(windows.anchored.contains(&12) && !windows.anchored.contains(&13));
        assert_eq!(windows.cited_by[&99], vec![("lost-writes".to_string(), 2)]);
    }
}
