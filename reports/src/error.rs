//! What can go wrong while rendering a report, with variants a caller can act on.

use thiserror::Error;

/// Why a report could not be produced.
#[derive(Debug, Error)]
pub enum ReportError {
    /// `test.json` (or another input) is not what this crate expects.
    #[error("reading run description: {0}")]
    RunInfo(#[from] serde_json::Error),
    /// JUnit XML serialisation failed (an invalid XML character in a name or message).
    #[error("writing junit.xml: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    /// plotters could not draw a chart; the message names the chart.
    #[error("drawing the {chart} chart: {reason}")]
    Chart { chart: String, reason: String },
    /// Writing into an in-memory buffer failed (only on a formatting bug).
    #[error("formatting report text: {0}")]
    Format(#[from] std::fmt::Error),
}
