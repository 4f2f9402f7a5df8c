//! Whether every planned part of a run ran, and what a verdict is worth when one did not.
//!
//! The rule: a run's verdict is `valid` only when every planned part of it ran — clients that
//! actually performed operations, the whole nemesis schedule, healing, convergence, the final
//! reads of every node, a history written without error — and nothing interrupted it. A part
//! that did not run is recorded with its reason in `test.json` (`incomplete`) and in
//! `results.json` (`incomplete`, and `valid` at best `"unknown"`), and adds the undecided
//! expectation `complete`, so the exit code is 2 unless an anomaly already broke an
//! expectation (1: the ops that prove it did happen). `redline report` re-applies the same
//! list from `test.json`; a run with no finish record in `test.json` (killed, or still going)
//! is incomplete by that fact alone.

use crate::analysis::Analysis;
use redline_checkers::expect;
use redline_checkers::ExpectationOutcome;
use std::fmt;

/// The name of the expectation an incomplete run adds.
pub const COMPLETE_RULE: &str = "complete";

/// The reason given for a run whose `test.json` has no finish record.
pub const NO_FINISH_RECORD: &str =
    "run: test.json has no finish record (the run was killed, or is still going)";

/// A planned part of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Starting the cluster, probing it, opening the history.
    Setup,
    /// The client processes.
    Clients,
    /// The fault schedule.
    Nemesis,
    /// Lifting every fault, restarting every dead process.
    Heal,
    /// Waiting for the replicas to catch up.
    Converge,
    /// Reading everything back from every node.
    FinalReads,
    /// Writing `history.jsonl`.
    History,
    /// The run as a whole (interrupted).
    Run,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Setup => "setup",
            Part::Clients => "clients",
            Part::Nemesis => "nemesis",
            Part::Heal => "heal",
            Part::Converge => "converge",
            Part::FinalReads => "final reads",
            Part::History => "history",
            Part::Run => "run",
        })
    }
}

/// The parts that did not run, as they are found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completeness {
    missing: Vec<String>,
}

impl Completeness {
    /// Notes that `part` did not run in full, and why.
    pub fn missing(&mut self, part: Part, why: impl fmt::Display) {
        let line = format!("{part}: {why}");
        tracing::debug!("incomplete run: {line}");
        self.missing.push(line);
    }

    /// Whether every planned part ran.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// Every part that did not run, with its reason.
    pub fn reasons(&self) -> &[String] {
        &self.missing
    }
}

/// Applies a run's incompleteness to its analysis: `results.incomplete` and `valid`, the
/// undecided expectation [`COMPLETE_RULE`], and the verdict recomputed from the expectations.
pub fn apply(analysis: &mut Analysis, incomplete: &[String]) {
    if incomplete.is_empty() {
        return;
    }
    let results = &mut analysis.results;
    results.mark_incomplete(incomplete.iter().cloned());
    results.expectations.push(ExpectationOutcome {
        rule: COMPLETE_RULE.to_string(),
        held: None,
        detail: format!(
            "not every planned part of the run ran: {}",
            incomplete.join("; ")
        ),
    });
    analysis.verdict = expect::verdict(&results.expectations);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, AnalysisRequest};
    use redline_checkers::expect::Verdict;
    use redline_checkers::{History, Validity};

    #[test]
    fn a_part_that_did_not_run_makes_a_valid_run_unknown_and_exit_2() {
        let mut a = analyse(
            History::new(Vec::new()).unwrap(),
            &AnalysisRequest::default(),
        );
        apply(&mut a, &[]);
        let (valid, verdict) = (a.results.valid, a.verdict);
        let mut c = Completeness::default();
        c.missing(Part::Clients, "no client performed an operation");
        apply(&mut a, c.reasons());
        assert_ne!(
            a.results.valid,
            Validity::Valid,
            "was {valid:?}, {verdict:?}"
        );
        assert_eq!(a.verdict, Verdict::Undecided);
        assert_eq!(a.verdict.exit_code(), 2);
        let last = a.results.expectations.last().unwrap();
        assert_eq!((last.rule.as_str(), last.held), (COMPLETE_RULE, None));
        assert!(last.detail.contains("clients: no client performed"));
        assert_eq!(
            a.results.incomplete,
            ["clients: no client performed an operation"]
        );
    }
}
