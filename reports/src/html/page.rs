//! The page around the sections: document head with the inline stylesheet, the header (verdicts,
//! what ran, how to reproduce it), the operation and statistics summaries, and the fault list.
//!
//! No script, no web font, no image, no link to anything outside the file: the page must open
//! from a CI artefact store years later, offline, and print on paper.

use super::faults::FaultBand;
use super::{escape, short_value};
use crate::counts::ops_by_f;
use crate::run_info::RunInfo;
use crate::table::format_stat;
use crate::verdict::{
    checker_verdict, expectation_label, validity_class, validity_label, verdict_class,
};
use redline_checkers::telemetry::Telemetry;
use redline_checkers::{History, Results};
use std::fmt::{self, Write};

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 0 16px 48px; color: #1d1d1f; }
h1 { font-size: 22px; margin: 18px 0 6px; } h2 { font-size: 18px; margin-top: 30px;
  border-bottom: 1px solid #ccc; } h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #d4d4d4; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f6f6f6; padding: 8px; white-space: pre-wrap; word-break: break-all; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 3px; font-weight: 600; }
.valid { background: #dff3e4; color: #14532d; } .invalid { background: #fbe0e0; color: #8b0000; }
.unknown { background: #fff1cc; color: #7a4d00; } .skipped { background: #eee; color: #555; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
figure.chart { margin: 14px 0; break-inside: avoid; }
figure.chart svg { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-weight: 600; } p.note { color: #555; margin: 2px 0 10px; }
table.lanes { border-collapse: separate; border-spacing: 1px; }
table.lanes td { border: 0; padding: 0; width: 9px; height: 11px; background: #f4f4f4; }
table.lanes th { border: 0; background: none; font-weight: normal; font-size: 11px; padding: 0 4px; }
table.lanes td.o { background: #7cc68e; } table.lanes td.l { background: #f6c1b8; }
table.lanes td.m { background: #e8786a; } table.lanes td.h { background: #a31515; }
table.lanes td.n { background: #9db9e0; }
nav.toc a { margin-right: 12px; }
tr.witness td { background: #fff4b8; font-weight: 600; }
tr:target td { outline: 2px solid #d62728; }
td.ok { color: #14532d; } td.fail { color: #8b0000; } td.info { color: #a05a00; }
.window { margin-bottom: 18px; break-inside: avoid; }
table.witnesses td, table.witnesses th { font-size: 12.5px; }
@media print { body { max-width: none; } a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; } }
"#;

/// The document head and the start of the body.
pub fn open(out: &mut String, info: Option<&RunInfo>, results: &Results) -> fmt::Result {
    let name = info.map_or("redline run", |i| i.name.as_str());
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — {}</title><style>{STYLE}</style></head><body>\n",
        escape(name),
        validity_label(results.valid)
    )
}

/// Closes the body and the document.
pub fn close(out: &mut String) -> fmt::Result {
    writeln!(out, "</body></html>")
}

/// Title, overall verdict, per-checker verdicts, expectations and the facts of the run.
pub fn header(out: &mut String, info: Option<&RunInfo>, results: &Results) -> fmt::Result {
    let name = info.map_or("redline run", |i| i.name.as_str());
    writeln!(
        out,
        "<h1>{} <span class=\"verdict {}\" id=\"overall-verdict\">{}</span></h1>",
        escape(name),
        validity_class(results.valid),
        validity_label(results.valid)
    )?;
    if !results.incomplete.is_empty() {
        let parts: Vec<String> = results.incomplete.iter().map(|p| escape(p)).collect();
        writeln!(
            out,
            "<p class=\"note\" id=\"incomplete\">Not every planned part of this run ran, so \
             its verdict cannot be valid: {}</p>",
            parts.join("; ")
        )?;
    }
    let shards = match super::shards::shards_of(results) {
        Some(_) => "<a href=\"#shards\">shards</a>",
        None => "",
    };
    writeln!(
        out,
        "<nav class=\"toc\"><a href=\"#charts\">charts</a>{shards}<a href=\"#anomalies\">anomalies</a>\
         <a href=\"#faults\">faults</a><a href=\"#operations\">operations</a>\
         <a href=\"#statistics\">statistics</a><a href=\"#timeline\">timeline</a></nav>"
    )?;
    writeln!(
        out,
        "<table><tr><th>checker</th><th>verdict</th><th>anomalies</th><th>notes</th></tr>"
    )?;
    for (checker, r) in &results.checkers {
        let anomalies = if r.anomalies.is_empty() {
            "0".to_string()
        } else {
            format!(
                "<a href=\"#anomalies-{0}\">{1}</a>",
                escape(checker),
                r.anomaly_count()
            )
        };
        writeln!(
            out,
            "<tr><td>{}</td><td><span class=\"verdict {}\">{}</span></td>\
             <td class=\"num\">{anomalies}</td><td>{}</td></tr>",
            escape(checker),
            verdict_class(r),
            escape(&checker_verdict(r)),
            escape(&r.notes.join("; "))
        )?;
    }
    writeln!(out, "</table>")?;
    if !results.expectations.is_empty() {
        writeln!(
            out,
            "<h3>expectations</h3><table><tr><th>rule</th><th>outcome</th><th>detail</th></tr>"
        )?;
        for e in &results.expectations {
            let class = match e.held {
                Some(true) => "valid",
                Some(false) => "invalid",
                None => "unknown",
            };
            writeln!(
                out,
                "<tr><td><code>{}</code></td><td><span class=\"verdict {class}\">{}</span></td><td>{}</td></tr>",
                escape(&e.rule),
                expectation_label(e.held),
                escape(&e.detail)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    match info {
        Some(info) => facts(out, info),
        None => writeln!(
            out,
            "<p class=\"note\">No test.json: run facts unknown.</p>"
        ),
    }
}

fn facts(out: &mut String, info: &RunInfo) -> fmt::Result {
    let options = if info.redis_options.is_empty() {
        "defaults".to_string()
    } else {
        info.redis_options.join(" ")
    };
    let rows = [
        ("workload", info.workload.clone()),
        ("nemesis", info.nemesis.clone()),
        ("seed", info.seed.to_string()),
        ("started", info.started_at.clone()),
        (
            "duration",
            format!("{:.1} s", info.duration_ms as f64 / 1000.0),
        ),
        ("time limit", format!("{} s", info.time_limit_s)),
        ("concurrency", info.concurrency.to_string()),
        (
            "server",
            format!("{} ({})", info.server_label(), info.server.binary),
        ),
        ("cluster", info.layout_label()),
        (
            "replicas / sentinels",
            format!("{} / {}", info.replicas, info.sentinels),
        ),
        ("server options", options),
    ];
    writeln!(out, "<dl class=\"facts\">")?;
    for (label, value) in rows {
        writeln!(out, "<dt>{label}</dt><dd>{}</dd>", escape(&value))?;
    }
    writeln!(out, "</dl>")?;
    writeln!(
        out,
        "<h3>reproduce</h3><pre id=\"command\">{}</pre>",
        escape(&info.command)
    )?;
    if !info.fault_schedule.is_null() {
        writeln!(
            out,
            "<h3>planned fault schedule</h3><pre>{}</pre>",
            escape(&short_value(&info.fault_schedule, 4000))
        )?;
    }
    Ok(())
}

/// Client operations by `f` and outcome, and every checker's statistics.
pub fn summary(out: &mut String, history: &History, results: &Results) -> fmt::Result {
    writeln!(out, "<h2 id=\"operations\">operations</h2>")?;
    writeln!(
        out,
        "<table><tr><th>f</th><th>ok</th><th>fail</th><th>info</th><th>total</th></tr>"
    )?;
    for (f, c) in ops_by_f(history) {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&f),
            c.ok,
            c.fail,
            c.info,
            c.total()
        )?;
    }
    writeln!(out, "</table>")?;
    writeln!(out, "<h2 id=\"statistics\">statistics</h2>")?;
    for (checker, r) in results.checkers.iter().filter(|(_, r)| !r.stats.is_empty()) {
        writeln!(out, "<h3>{}</h3><table>", escape(checker))?;
        for (name, value) in &r.stats {
            let shown = if value.is_number() {
                format_stat(value)
            } else {
                short_value(value, 300)
            };
            writeln!(
                out,
                "<tr><th>{}</th><td class=\"mono\">{}</td></tr>",
                escape(name),
                escape(&shown)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    Ok(())
}

/// Every fault interval and instant, in start order.
pub fn fault_list(out: &mut String, bands: &[FaultBand], telemetry: &Telemetry) -> fmt::Result {
    writeln!(out, "<h2 id=\"faults\">faults</h2>")?;
    if bands.is_empty() {
        return writeln!(
            out,
            "<p class=\"note\">No nemesis operations in the history.</p>"
        );
    }
    // The persistence column only when the telemetry has samples to fill it.
    let persistence = !telemetry.is_empty();
    let column = if persistence {
        "<th>persistence just before (INFO persistence)</th>"
    } else {
        ""
    };
    writeln!(
        out,
        "<table><tr><th>fault</th><th>from (ms)</th><th>to (ms)</th><th>healed</th>{column}</tr>"
    )?;
    for b in bands {
        let to = if b.instant {
            "instant".to_string()
        } else {
            format!("{:.1}", b.end as f64 / 1e6)
        };
        let cell = if persistence {
            format!(
                "<td>{}</td>",
                escape(&super::persistence::at_fault(telemetry, b))
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{to}</td><td>{}</td>{cell}</tr>",
            escape(&b.label),
            b.start as f64 / 1e6,
            if b.healed { "yes" } else { "no" }
        )?;
    }
    writeln!(out, "</table>")
}
