//! How verdicts read in every output: `valid`, `INVALID`, `unknown`, `skipped (reason)`.
//!
//! INVALID is upper-case on purpose: it is the word a reader scans a table for.

use redline_checkers::{CheckResult, Validity};

/// The verdict of one checker in words; a skipped checker shows its reason.
pub fn checker_verdict(result: &CheckResult) -> String {
    match &result.skipped {
        Some(reason) => format!("skipped ({reason})"),
        None => validity_label(result.valid).to_string(),
    }
}

/// `valid`, `INVALID` or `unknown`.
pub fn validity_label(valid: Validity) -> &'static str {
    match valid {
        Validity::Valid => "valid",
        Validity::Invalid => "INVALID",
        Validity::Unknown => "unknown",
    }
}

/// `held`, `broken` or `undecided` for an `--expect` rule.
pub fn expectation_label(held: Option<bool>) -> &'static str {
    match held {
        Some(true) => "held",
        Some(false) => "broken",
        None => "undecided",
    }
}

/// A CSS class name for a verdict (`valid`, `invalid`, `unknown`, `skipped`).
pub fn verdict_class(result: &CheckResult) -> &'static str {
    if result.skipped.is_some() {
        return "skipped";
    }
    validity_class(result.valid)
}

/// A CSS class name for a validity.
pub fn validity_class(valid: Validity) -> &'static str {
    match valid {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}
