//! PLACEHOLDER: the wait checker is being written; this stub only keeps the crate building.

use crate::history::History;
use crate::registry::CheckOptions;
use crate::result::CheckResult;

/// Not implemented yet: always `unknown`, never a verdict.
pub fn check(_history: &History, _opts: &CheckOptions) -> CheckResult {
    CheckResult::unknown("the wait checker is not implemented yet")
}
