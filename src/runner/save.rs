//! Saving a checked run into its folder: `results.json`, `report.html`, `junit.xml`. The last
//! step of the pipeline, and what `redline report` repeats from the files alone.

use crate::analysis::Analysis;
use crate::store;
use anyhow::{Context, Result};
use redline_reports::RunInfo;
use std::path::Path;

/// Writes results.json, report.html and junit.xml into `run_dir`.
pub fn write_outputs(run_dir: &Path, info: Option<&RunInfo>, analysis: &Analysis) -> Result<()> {
    let results = &analysis.results;
    let path = run_dir.join(store::RESULTS);
    std::fs::write(&path, serde_json::to_vec_pretty(results)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let html = redline_reports::render_html(info, &analysis.history, &analysis.telemetry, results)?;
    let path = run_dir.join(store::REPORT_HTML);
    std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
    let name = info.map(|i| i.name.as_str()).unwrap_or("redline");
    let xml = redline_reports::junit_xml(name, &[(info, results)])?;
    let path = run_dir.join(store::JUNIT);
    std::fs::write(&path, xml).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
