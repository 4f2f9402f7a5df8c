//! Saving a checked run into its folder: `anomalies.jsonl`, `results.json`, `report.html`,
//! `junit.xml`. The last step of the pipeline, and what `redline report` repeats from the files
//! alone.
//!
//! A run of hours can find millions of anomalies (every element lost when a master without
//! persistence restarts). Every one of them goes to `anomalies.jsonl`, one JSON object per line
//! with its checker's name (those a checker kept only in brief, [`redline_checkers::Brief`],
//! as their brief: no paragraph); `results.json`, the report and the terminal list the
//! first [`LISTED_PER_KIND`] of each kind per checker (checkers list the worst first) and count
//! the rest in `omitted`, so those stay small at any run length. Statistics that are lists
//! (`lost_elements`, say) are cut to [`LISTED_STAT_ITEMS`] in the same way, with a note.

use crate::analysis::Analysis;
use crate::store;
use anyhow::{Context, Result};
use redline_checkers::{CheckResult, Results};
use redline_reports::RunInfo;
use serde_json::Value;
use std::io::{BufWriter, Write};
use std::path::Path;

/// How many anomalies of one kind a checker lists in `results.json` and the report.
pub const LISTED_PER_KIND: usize = 20;
/// How many items a list statistic keeps in `results.json` and the report.
pub const LISTED_STAT_ITEMS: usize = 100;

/// Writes anomalies.jsonl (every anomaly), then caps the analysis's lists (see the module doc)
/// and writes results.json, report.html and junit.xml from it. The analysis is left capped, as
/// the terminal shows it.
pub fn write_outputs(
    run_dir: &Path,
    info: Option<&RunInfo>,
    analysis: &mut Analysis,
) -> Result<()> {
    let path = run_dir.join(store::ANOMALIES);
    write_anomalies(&path, &analysis.results)
        .with_context(|| format!("writing {}", path.display()))?;
    cap_lists(&mut analysis.results);
    let results = &analysis.results;
    let path = run_dir.join(store::RESULTS);
    write_whole(&path, &serde_json::to_vec_pretty(results)?)?;
    let html = redline_reports::render_html(info, &analysis.history, &analysis.telemetry, results)?;
    write_whole(&run_dir.join(store::REPORT_HTML), html.as_bytes())?;
    let name = info.map(|i| i.name.as_str()).unwrap_or("redline");
    let xml = redline_reports::junit_xml(name, &[(info, results)])?;
    write_whole(&run_dir.join(store::JUNIT), xml.as_bytes())?;
    Ok(())
}

/// Writes `bytes` to `path` whole or not at all: into a temporary file beside it, renamed over
/// it once written. A full disk then leaves no half-written results.json that a later
/// `redline report` or `runs` would misread; the temporary file is removed.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("writing {}", path.display()))
}

/// Every anomaly of every checker, one line each: the anomaly's fields (or its brief's) plus
/// `checker`.
fn write_anomalies(path: &Path, results: &Results) -> Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for (checker, result) in &results.checkers {
        for anomaly in &result.anomalies {
            write_line(&mut out, checker, anomaly)?;
        }
        for brief in &result.briefs {
            write_line(&mut out, checker, brief)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn write_line(out: &mut impl Write, checker: &str, item: &impl serde::Serialize) -> Result<()> {
    let mut line = serde_json::to_value(item)?;
    if let Value::Object(fields) = &mut line {
        fields.insert("checker".into(), Value::String(checker.to_string()));
    }
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Cuts every checker's anomaly lists and list statistics (see the module doc).
pub fn cap_lists(results: &mut Results) {
    for result in results.checkers.values_mut() {
        cap_anomalies(result);
        cap_stats(result);
    }
}

/// Also drops the checkers' briefs: `anomalies.jsonl` has them, and they are counted.
fn cap_anomalies(result: &mut CheckResult) {
    let listed_before = result.anomalies.len();
    for kind in result.counts_by_kind().into_keys() {
        result.cap_kind(&kind, LISTED_PER_KIND);
    }
    let cut = listed_before - result.anomalies.len() + std::mem::take(&mut result.briefs).len();
    if cut > 0 {
        result.notes.push(format!(
            "{cut} more anomalies are counted but not listed here (the first {LISTED_PER_KIND} \
             of each kind are); {} in the run folder has every one",
            store::ANOMALIES
        ));
    }
}

fn cap_stats(result: &mut CheckResult) {
    for (name, value) in result.stats.iter_mut() {
        let Value::Array(items) = value else { continue };
        if items.len() <= LISTED_STAT_ITEMS {
            continue;
        }
        let total = items.len();
        items.truncate(LISTED_STAT_ITEMS);
        result.notes.push(format!(
            "statistic {name}: the first {LISTED_STAT_ITEMS} of {total} items are kept here"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::Anomaly;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// 500 lost elements: all 500 in anomalies.jsonl, 20 listed, 480 counted; a long list
    /// statistic is cut with a note. The verdict and the counts do not change.
    #[test]
    fn long_lists_stay_in_anomalies_jsonl_and_results_stay_small() {
        let anomalies: Vec<Anomaly> = (0..500)
            .map(|i| Anomaly::new("lost", vec![i], format!("element {i} was lost")))
            .chain([Anomaly::new("divergent", vec![1], "n2 differs".into())])
            .collect();
        let stats = json!({"lost": 500, "lost_elements": (0..500).collect::<Vec<_>>()});
        let mut checkers = BTreeMap::new();
        checkers.insert(
            "lost-writes".to_string(),
            CheckResult::from_anomalies(anomalies, stats.as_object().cloned().unwrap()),
        );
        let mut results = Results::new(checkers);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(store::ANOMALIES);
        write_anomalies(&path, &results).unwrap();
        cap_lists(&mut results);

        let lines: Vec<Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 501);
        assert_eq!(lines[499]["explanation"], "element 499 was lost");
        assert_eq!(lines[0]["checker"], "lost-writes");

        let r = &results.checkers["lost-writes"];
        assert_eq!(r.anomalies.len(), LISTED_PER_KIND + 1);
        assert_eq!(r.counts_by_kind()["lost"], 500);
        assert_eq!(r.anomaly_count(), 501);
        assert_eq!(r.stats["lost"], 500);
        assert_eq!(r.stats["lost_elements"].as_array().unwrap().len(), 100);
        assert!(r.notes.iter().any(|n| n.contains("anomalies.jsonl")));
        assert!(r.notes.iter().any(|n| n.contains("of 500 items")));
        assert_eq!(results.valid, redline_checkers::Validity::Invalid);
        assert!(serde_json::to_vec(&results).unwrap().len() < 20_000);
    }

    /// Anomalies a checker kept in brief are lines of anomalies.jsonl after its full ones, are
    /// counted in the note, and leave the results.
    #[test]
    fn briefs_are_lines_of_anomalies_jsonl_and_counted() {
        let full = vec![Anomaly::new("lost", vec![0], "element 0 was lost".into())];
        let mut result = CheckResult::from_anomalies(full, Default::default());
        let key: Option<std::sync::Arc<str>> = Some("s".into());
        result.briefs = (1..300u64)
            .map(|i| redline_checkers::Brief {
                kind: "lost",
                ops: vec![i, 1000],
                key: key.clone(),
                element: json!(i),
                fault_op: Some(7),
            })
            .collect();
        result.omitted.insert("lost".into(), 299);
        let mut results = Results::new(BTreeMap::from([("lost-writes".to_string(), result)]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(store::ANOMALIES);
        write_anomalies(&path, &results).unwrap();
        cap_lists(&mut results);

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 300);
        assert_eq!(
            lines[299],
            json!({"checker": "lost-writes", "kind": "lost", "ops": [299, 1000], "key": "s",
                   "element": 299, "fault_op": 7})
        );
        let r = &results.checkers["lost-writes"];
        assert!(r.briefs.is_empty());
        assert_eq!(r.anomaly_count(), 300);
        assert!(
            r.notes[0].starts_with("299 more anomalies"),
            "{}",
            r.notes[0]
        );
    }
}
