//! The anomalies section: per checker, each anomaly with its kind, key, explanation, the witness
//! ops it cites (index, process, time, node, f, type, value) and, for writes, the replication
//! acknowledgement they had (WAIT / WAITAOF), since "lost although acked by 2 replicas" and
//! "lost, acked by none" are different findings. At most [`WITNESS_ROWS`] witness ops are listed
//! per anomaly, with the rest counted.

use super::timeline::Windows;
use super::{escape, position_of, short_value, ANOMALIES_SHOWN_PER_CHECKER};
use redline_checkers::{Anomaly, History, Op};
use std::fmt::{self, Write};

/// Witness ops listed per anomaly (a split-brain range over thousands of slots cites every
/// slot's witnesses); the rest are counted, and anomalies.jsonl lists them all.
const WITNESS_ROWS: usize = 60;

/// The id of anomaly `n` (0-based) of `checker`, for links from the timeline.
pub fn anomaly_anchor(checker: &str, n: usize) -> String {
    format!("anomaly-{checker}-{n}")
}

/// Writes the section; checkers without anomalies are left out.
pub fn section(
    out: &mut String,
    history: &History,
    results: &redline_checkers::Results,
    windows: &Windows,
) -> fmt::Result {
    writeln!(out, "<h2 id=\"anomalies\">anomalies</h2>")?;
    let mut any = false;
    for (checker, result) in results
        .checkers
        .iter()
        .filter(|(_, r)| !r.anomalies.is_empty())
    {
        any = true;
        let counts: Vec<String> = result
            .counts_by_kind()
            .iter()
            .map(|(k, n)| format!("{} {n}", escape(k)))
            .collect();
        writeln!(
            out,
            "<h3 id=\"anomalies-{0}\">{0}: {1} anomalies ({2})</h3>",
            escape(checker),
            result.anomaly_count(),
            counts.join(", ")
        )?;
        writeln!(out, "<table><tr><th>#</th><th>kind</th><th>key</th><th>ack level</th><th>explanation</th></tr>")?;
        for (n, anomaly) in result
            .anomalies
            .iter()
            .take(ANOMALIES_SHOWN_PER_CHECKER)
            .enumerate()
        {
            anomaly_rows(out, history, checker, n, anomaly, windows)?;
        }
        writeln!(out, "</table>")?;
        // Anomalies beyond what is drawn here: listed but not drawn, and counted but not listed
        // (a run's anomalies.jsonl has them all).
        let hidden = result
            .anomalies
            .len()
            .saturating_sub(ANOMALIES_SHOWN_PER_CHECKER) as u64
            + result.omitted.values().sum::<u64>();
        if hidden > 0 {
            writeln!(
                out,
                "<p class=\"note\">{hidden} more {} anomalies are not shown here; \
                 anomalies.jsonl in the run folder lists every one.</p>",
                escape(checker)
            )?;
        }
    }
    if !any {
        writeln!(out, "<p class=\"note\">No checker reported an anomaly.</p>")?;
    }
    Ok(())
}

fn anomaly_rows(
    out: &mut String,
    history: &History,
    checker: &str,
    n: usize,
    anomaly: &Anomaly,
    windows: &Windows,
) -> fmt::Result {
    writeln!(
        out,
        "<tr id=\"{}\"><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}",
        escape(&anomaly_anchor(checker, n)),
        n + 1,
        escape(&anomaly.kind),
        escape(anomaly.key.as_deref().unwrap_or("")),
        escape(&ack_level(history, anomaly)),
        escape(&anomaly.explanation)
    )?;
    if !anomaly.details.is_null() {
        writeln!(
            out,
            "<br><span class=\"mono\">details: {}</span>",
            escape(&short_value(&anomaly.details, 400))
        )?;
    }
    writeln!(
        out,
        "<table class=\"witnesses\"><tr><th>op</th><th>process</th><th>time (ms)</th><th>node</th>\
         <th>f</th><th>type</th><th>key</th><th>value</th></tr>"
    )?;
    for &index in anomaly.ops.iter().take(WITNESS_ROWS) {
        let link = if windows.anchored.contains(&index) {
            format!("<a href=\"#op-{index}\">{index}</a>")
        } else {
            index.to_string()
        };
        match history.by_index(index) {
            Some(op) => {
                let ty = op.op_type.as_str();
                writeln!(
                    out,
                    "<tr><td class=\"num\">{link}</td><td>{}</td><td class=\"num\">{:.3}</td>\
                     <td>{}</td><td>{}</td><td class=\"{ty}\">{ty}</td><td>{}</td>\
                     <td class=\"mono\">{}</td></tr>",
                    op.process,
                    op.time_ms(),
                    escape(op.node.as_deref().unwrap_or("")),
                    escape(op.f.as_str()),
                    escape(op.key.as_deref().unwrap_or("")),
                    escape(&short_value(&op.value, 200))
                )?
            }
            None => writeln!(
                out,
                "<tr><td class=\"num\">{link}</td><td colspan=\"7\">not in the history</td></tr>"
            )?,
        }
    }
    writeln!(out, "</table>")?;
    if anomaly.ops.len() > WITNESS_ROWS {
        writeln!(
            out,
            "<p class=\"note\">{} more witness ops (anomalies.jsonl lists every one).</p>",
            anomaly.ops.len() - WITNESS_ROWS
        )?;
    }
    writeln!(out, "</td></tr>")
}

/// The acknowledgement the cited write got: from the completion of any witness op (or of its
/// invocation's completion) that carries WAIT or WAITAOF, else `details.acked`, else empty.
pub fn ack_level(history: &History, anomaly: &Anomaly) -> String {
    for &index in &anomaly.ops {
        let Some(pos) = position_of(history, index) else {
            continue;
        };
        let ops = history.ops();
        let candidates = [Some(pos), history.partner(pos)];
        for op in candidates.into_iter().flatten().map(|p| &ops[p]) {
            if let Some(level) = op_ack_level(op) {
                return level;
            }
        }
    }
    match anomaly.details.get("acked") {
        Some(acked) if !acked.is_null() => format!("acked {acked}"),
        _ => String::new(),
    }
}

fn op_ack_level(op: &Op) -> Option<String> {
    if let Some(w) = &op.waitaof {
        if let (Some(local), Some(replicas)) = (w.acked_local, w.acked_replicas) {
            return Some(format!(
                "WAITAOF local {local}/{}, replicas {replicas}/{}",
                w.local, w.replicas
            ));
        }
    }
    let w = op.wait.as_ref()?;
    w.acked
        .map(|acked| format!("WAIT acked by {acked} of {} replicas", w.replicas))
}
