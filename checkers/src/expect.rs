//! `--expect` rules: what a run is declared to guarantee, and whether its results kept to it.
//!
//! A rule is decided from the checkers' verdicts, statistics and anomaly kinds. Each outcome is
//! held, broken, or undecided (`held: None`) when the checker it needs did not run, was skipped
//! or could not decide — a missing measurement never passes for a kept promise. The outcomes
//! compose into a [`Verdict`], which the CLI maps to its exit code (0 held, 1 broken,
//! 2 undecided).
//!
//! With no rules, the expectation is `valid`: every checker that ran found nothing. Rules such
//! as `stale-reads<=5%` or `lost-writes>=1` let a run accept, or document, behaviour that
//! asynchronous replication is known to have.

mod window;

use crate::names::{kind, stat};
use crate::registry::{CheckOptions, CheckerName};
use crate::result::{CheckResult, ExpectationOutcome, Results, Validity};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Every rule form, for help texts and error messages.
pub const RULE_FORMS: &str = "valid, no-lost-writes, lost-writes<=N, lost-writes>=N, \
    lost-within=MS, no-stale-reads, stale-reads<=P%, stale-reads>=P%, staleness-p99<=MS, \
    outage<=MS, outage>=MS, wait-durable=N, waitaof-durable=R, read-your-writes, \
    monotonic-reads, linearizable, serializable, no-split-brain, checker:NAME";

/// One `--expect` rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Every checker that ran is valid.
    Valid,
    /// No acknowledged write was lost (lost-writes `lost` == 0).
    NoLostWrites,
    /// At most N acknowledged writes were lost.
    LostWritesAtMost(u64),
    /// At least N acknowledged writes were lost: documents that writes ARE lost.
    LostWritesAtLeast(u64),
    /// Every lost write was acknowledged at most this many ms before the fault that lost it
    /// (a loss window, as `appendfsync everysec` promises one).
    LostWithin(f64),
    /// No read was stale.
    NoStaleReads,
    /// At most P percent of reads were stale.
    StaleReadsAtMost(f64),
    /// At least P percent of reads were stale: documents that replicas serve stale reads.
    StaleReadsAtLeast(f64),
    /// The 99th percentile of staleness over stale reads is at most this many ms.
    StalenessP99AtMost(f64),
    /// The run's longest outage (the availability checker's longest window in which no client
    /// operation succeeded, in ms) is at most this: the service kept serving.
    OutageAtMost(f64),
    /// The longest outage is at least this many ms: documents an outage a configuration is
    /// known to cause (a Redis Cluster with an uncovered slot refuses every query).
    OutageAtLeast(f64),
    /// No write acknowledged by WAIT from at least N replicas was lost.
    WaitDurable(u64),
    /// No write acknowledged by WAITAOF from at least R replicas was lost.
    WaitAofDurable(u64),
    /// No read-your-writes violation.
    ReadYourWrites,
    /// No monotonic-reads violation.
    MonotonicReads,
    /// The linearizable checker is valid.
    Linearizable,
    /// The txn-cycles checker is valid.
    Serializable,
    /// The split-brain checker is valid.
    NoSplitBrain,
    /// The named checker is valid.
    Checker(CheckerName),
}

/// Why a rule did not parse.
#[derive(Debug, Error, PartialEq)]
#[error("invalid --expect rule {rule:?}: {reason} (valid rules: {RULE_FORMS})")]
pub struct RuleError {
    pub rule: String,
    pub reason: String,
}

impl FromStr for Rule {
    type Err = RuleError;

    /// Parses a rule; whitespace is ignored (`lost-writes <= 3` is `lost-writes<=3`).
    fn from_str(text: &str) -> Result<Rule, RuleError> {
        let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let err = |reason: String| RuleError {
            rule: text.to_string(),
            reason,
        };
        let rule = match s.as_str() {
            "valid" => Rule::Valid,
            "no-lost-writes" => Rule::NoLostWrites,
            "no-stale-reads" => Rule::NoStaleReads,
            "read-your-writes" => Rule::ReadYourWrites,
            "monotonic-reads" => Rule::MonotonicReads,
            "linearizable" => Rule::Linearizable,
            "serializable" => Rule::Serializable,
            "no-split-brain" => Rule::NoSplitBrain,
            "" => return Err(err("the rule is empty".into())),
            _ => return parse_parameterised(&s).map_err(err),
        };
        Ok(rule)
    }
}

/// The rules that carry a number or a name.
fn parse_parameterised(s: &str) -> Result<Rule, String> {
    if let Some(name) = s.strip_prefix("checker:") {
        return CheckerName::from_str(name).map(Rule::Checker);
    }
    if let Some(n) = s.strip_prefix("lost-writes<=") {
        return count(n).map(Rule::LostWritesAtMost);
    }
    if let Some(n) = s.strip_prefix("lost-writes>=") {
        return count(n).map(Rule::LostWritesAtLeast);
    }
    if let Some(t) = s.strip_prefix("lost-within=") {
        return millis(t).map(Rule::LostWithin);
    }
    if let Some(p) = s.strip_prefix("stale-reads<=") {
        return percent(p).map(Rule::StaleReadsAtMost);
    }
    if let Some(p) = s.strip_prefix("stale-reads>=") {
        return percent(p).map(Rule::StaleReadsAtLeast);
    }
    if let Some(t) = s.strip_prefix("staleness-p99<=") {
        return millis(t).map(Rule::StalenessP99AtMost);
    }
    if let Some(t) = s.strip_prefix("outage<=") {
        return millis(t).map(Rule::OutageAtMost);
    }
    if let Some(t) = s.strip_prefix("outage>=") {
        return millis(t).map(Rule::OutageAtLeast);
    }
    if let Some(n) = s.strip_prefix("wait-durable=") {
        return count(n).map(Rule::WaitDurable);
    }
    if let Some(n) = s.strip_prefix("waitaof-durable=") {
        return count(n).map(Rule::WaitAofDurable);
    }
    Err("unknown rule".into())
}

fn count(n: &str) -> Result<u64, String> {
    n.parse()
        .map_err(|_| format!("{n:?} is not a non-negative whole number"))
}

fn percent(p: &str) -> Result<f64, String> {
    let Some(number) = p.strip_suffix('%') else {
        return Err(format!(
            "{p:?} must be a percentage ending in % (e.g. 5%), so a fraction is never mistaken \
             for one"
        ));
    };
    match number.parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("{p:?} is not a percentage between 0% and 100%")),
    }
}

fn millis(t: &str) -> Result<f64, String> {
    let number = t.strip_suffix("ms").unwrap_or(t);
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "{t:?} is not a non-negative number of milliseconds"
        )),
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Valid => f.write_str("valid"),
            Rule::NoLostWrites => f.write_str("no-lost-writes"),
            Rule::LostWritesAtMost(n) => write!(f, "lost-writes<={n}"),
            Rule::LostWritesAtLeast(n) => write!(f, "lost-writes>={n}"),
            Rule::LostWithin(t) => write!(f, "lost-within={t}"),
            Rule::NoStaleReads => f.write_str("no-stale-reads"),
            Rule::StaleReadsAtMost(p) => write!(f, "stale-reads<={p}%"),
            Rule::StaleReadsAtLeast(p) => write!(f, "stale-reads>={p}%"),
            Rule::StalenessP99AtMost(t) => write!(f, "staleness-p99<={t}ms"),
            Rule::OutageAtMost(t) => write!(f, "outage<={t}ms"),
            Rule::OutageAtLeast(t) => write!(f, "outage>={t}ms"),
            Rule::WaitDurable(n) => write!(f, "wait-durable={n}"),
            Rule::WaitAofDurable(n) => write!(f, "waitaof-durable={n}"),
            Rule::ReadYourWrites => f.write_str("read-your-writes"),
            Rule::MonotonicReads => f.write_str("monotonic-reads"),
            Rule::Linearizable => f.write_str("linearizable"),
            Rule::Serializable => f.write_str("serializable"),
            Rule::NoSplitBrain => f.write_str("no-split-brain"),
            Rule::Checker(name) => write!(f, "checker:{name}"),
        }
    }
}

/// Parses every `--expect` argument, stopping at the first bad one.
pub fn parse_rules<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Rule>, RuleError> {
    texts.iter().map(|t| t.as_ref().parse()).collect()
}

/// Carries the rules that are also checker thresholds into the options: `wait-durable=N` sets
/// `wait_durable`, `waitaof-durable=R` sets `waitaof_durable` (the last such rule wins).
pub fn apply_to_options(rules: &[Rule], opts: &mut CheckOptions) {
    for rule in rules {
        match rule {
            Rule::WaitDurable(n) => opts.wait_durable = Some(*n),
            Rule::WaitAofDurable(n) => opts.waitaof_durable = Some(*n),
            _ => {}
        }
    }
}

/// Whether the expectations held, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every rule held.
    Held,
    /// At least one rule was broken.
    Broken,
    /// None was broken, but at least one could not be decided.
    Undecided,
}

impl Verdict {
    /// The CLI exit code: 0 held, 1 broken, 2 undecided (DESIGN.md section 6).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Held => 0,
            Verdict::Broken => 1,
            Verdict::Undecided => 2,
        }
    }
}

/// Composes outcomes: any broken → `Broken`; else any undecided → `Undecided`; else `Held`.
pub fn verdict(outcomes: &[ExpectationOutcome]) -> Verdict {
    if outcomes.iter().any(|o| o.held == Some(false)) {
        Verdict::Broken
    } else if outcomes.iter().any(|o| o.held.is_none()) {
        Verdict::Undecided
    } else {
        Verdict::Held
    }
}

/// Decides every rule against the results; with no rules, the single rule `valid`.
pub fn evaluate(rules: &[Rule], results: &Results) -> Vec<ExpectationOutcome> {
    if rules.is_empty() {
        return vec![evaluate_one(&Rule::Valid, results)];
    }
    rules.iter().map(|r| evaluate_one(r, results)).collect()
}

fn evaluate_one(rule: &Rule, results: &Results) -> ExpectationOutcome {
    let (held, detail) = match rule {
        Rule::Valid => all_valid(results),
        Rule::NoLostWrites => lost_writes(results, Bound::AtMost(0)),
        Rule::LostWritesAtMost(n) => lost_writes(results, Bound::AtMost(*n)),
        Rule::LostWritesAtLeast(n) => lost_writes(results, Bound::AtLeast(*n)),
        Rule::LostWithin(t) => window::lost_within(results, *t),
        Rule::NoStaleReads => stale_fraction(results, PercentBound::None),
        Rule::StaleReadsAtMost(p) => stale_fraction(results, PercentBound::AtMost(*p)),
        Rule::StaleReadsAtLeast(p) => stale_fraction(results, PercentBound::AtLeast(*p)),
        Rule::StalenessP99AtMost(t) => staleness_p99(results, *t),
        Rule::OutageAtMost(t) => outage(results, Bound::AtMost(*t)),
        Rule::OutageAtLeast(t) => outage(results, Bound::AtLeast(*t)),
        Rule::WaitDurable(n) => durable(results, kind::WAIT_DURABLE_LOST, "WAIT", *n),
        Rule::WaitAofDurable(n) => durable(results, kind::WAITAOF_DURABLE_LOST, "WAITAOF", *n),
        Rule::ReadYourWrites => session(results, kind::READ_YOUR_WRITES, "read_your_writes"),
        Rule::MonotonicReads => session(results, kind::MONOTONIC_READS, "monotonic_reads"),
        Rule::Linearizable => checker_valid(results, CheckerName::Linearizable),
        Rule::Serializable => checker_valid(results, CheckerName::TxnCycles),
        Rule::NoSplitBrain => checker_valid(results, CheckerName::SplitBrain),
        Rule::Checker(name) => checker_valid(results, *name),
    };
    ExpectationOutcome {
        rule: rule.to_string(),
        held,
        detail,
    }
}

/// A rule's outcome: held / broken / undecided, and what was measured.
type Decision = (Option<bool>, String);

/// The result of a checker that ran and decided, or why the rule cannot be decided.
pub(crate) fn decided(results: &Results, name: CheckerName) -> Result<&CheckResult, String> {
    let Some(r) = results.checkers.get(name.as_str()) else {
        return Err(format!("checker {name} did not run"));
    };
    if let Some(reason) = &r.skipped {
        return Err(format!("checker {name} was skipped: {reason}"));
    }
    if r.valid == Validity::Unknown {
        let why = r.notes.first().map_or(String::new(), |n| format!(": {n}"));
        return Err(format!("checker {name} could not decide{why}"));
    }
    Ok(r)
}

fn all_valid(results: &Results) -> Decision {
    let ran: Vec<(&String, &CheckResult)> = results
        .checkers
        .iter()
        .filter(|(_, r)| r.skipped.is_none())
        .collect();
    let with = |v: Validity| -> Vec<&str> {
        ran.iter()
            .filter(|(_, r)| r.valid == v)
            .map(|(n, _)| n.as_str())
            .collect()
    };
    let (invalid, unknown, valid) = (
        with(Validity::Invalid),
        with(Validity::Unknown),
        with(Validity::Valid),
    );
    if ran.is_empty() {
        return (None, "no checker ran".into());
    }
    let list = |v: &[&str]| v.join(", ");
    if !invalid.is_empty() {
        (Some(false), format!("invalid: {}", list(&invalid)))
    } else if !unknown.is_empty() {
        (None, format!("could not decide: {}", list(&unknown)))
    } else {
        (Some(true), format!("all valid: {}", list(&valid)))
    }
}

/// A count or a time a rule bounds from above or below.
#[derive(Clone, Copy)]
enum Bound<T> {
    AtMost(T),
    AtLeast(T),
}

/// Lost writes from the lost-writes checker, or from the wait checker when lost-writes did not
/// run or was skipped: its `lost` statistic, else its count of `lost` anomalies.
fn lost_writes(results: &Results, bound: Bound<u64>) -> Decision {
    let source = match results.checkers.get(CheckerName::LostWrites.as_str()) {
        Some(r) if r.skipped.is_none() => {
            decided(results, CheckerName::LostWrites).map(|r| (CheckerName::LostWrites, r))
        }
        _ => {
            let why = decided(results, CheckerName::LostWrites)
                .err()
                .unwrap_or_default();
            fallback_to_wait(results, why)
        }
    };
    let (name, r) = match source {
        Ok(s) => s,
        Err(why) => return (None, why),
    };
    let lost = match r.stat(stat::LOST) {
        Some(v) => v as u64,
        None if name == CheckerName::Wait => {
            r.counts_by_kind().get(kind::LOST).copied().unwrap_or(0) as u64
        }
        None => return (None, format!("checker {name} reported no `lost` statistic")),
    };
    let (held, rule) = match bound {
        Bound::AtMost(n) => (lost <= n, format!("<= {n}")),
        Bound::AtLeast(n) => (lost >= n, format!(">= {n}")),
    };
    (
        Some(held),
        format!("lost = {lost} (rule: {rule}), from checker {name}"),
    )
}

fn fallback_to_wait(results: &Results, why: String) -> Result<(CheckerName, &CheckResult), String> {
    decided(results, CheckerName::Wait)
        .map(|r| (CheckerName::Wait, r))
        .map_err(|wait_why| format!("{why}; {wait_why}"))
}

#[derive(Clone, Copy)]
enum PercentBound {
    None,
    AtMost(f64),
    AtLeast(f64),
}

fn stale_fraction(results: &Results, bound: PercentBound) -> Decision {
    let r = match decided(results, CheckerName::StaleReads) {
        Ok(r) => r,
        Err(why) => return (None, why),
    };
    let (Some(reads), Some(stale)) = (r.stat("reads"), r.stat("stale")) else {
        return (
            None,
            "stale-reads reported no `reads`/`stale` statistics".into(),
        );
    };
    if reads == 0.0 {
        return (None, "stale-reads judged no reads".into());
    }
    let pct = 100.0 * stale / reads;
    let measured = format!("stale = {stale} of {reads} reads = {pct:.3}%");
    // Compare counts, not rounded percentages: stale * 100 against P * reads.
    let (held, rule) = match bound {
        PercentBound::None => (stale == 0.0, "no stale reads".to_string()),
        PercentBound::AtMost(p) => (stale * 100.0 <= p * reads, format!("<= {p}%")),
        PercentBound::AtLeast(p) => (stale * 100.0 >= p * reads, format!(">= {p}%")),
    };
    (Some(held), format!("{measured} (rule: {rule})"))
}

fn staleness_p99(results: &Results, limit_ms: f64) -> Decision {
    let r = match decided(results, CheckerName::StaleReads) {
        Ok(r) => r,
        Err(why) => return (None, why),
    };
    let rule = format!("rule: p99 <= {limit_ms} ms");
    match (r.stat("reads"), r.stat("stale"), r.stat("staleness_ms_p99")) {
        (Some(0.0), _, _) => (None, "stale-reads judged no reads".into()),
        (Some(_), Some(0.0), _) => (
            Some(true),
            format!("no stale reads, staleness p99 = 0 ms ({rule})"),
        ),
        (_, _, Some(p99)) => (
            Some(p99 <= limit_ms),
            format!("staleness p99 = {p99} ms ({rule})"),
        ),
        _ => (
            None,
            "stale-reads reported no `staleness_ms_p99` statistic".into(),
        ),
    }
}

/// The availability checker's `unavailability.max_ms`: the longest window, final reads left
/// out, in which no client operation succeeded. (Not the total: where part of the key space
/// fails, thousands of windows of a few ms between a failure and the next success add up to
/// seconds while the service is up.)
fn outage(results: &Results, bound: Bound<f64>) -> Decision {
    let r = match decided(results, CheckerName::Availability) {
        Ok(r) => r,
        Err(why) => return (None, why),
    };
    let longest = r
        .stats
        .get(stat::UNAVAILABILITY)
        .and_then(|u| u.get("max_ms"))
        .and_then(serde_json::Value::as_f64);
    let Some(longest) = longest else {
        return (
            None,
            "checker availability reported no `unavailability.max_ms` statistic".into(),
        );
    };
    let longest = longest.max(0.0);
    let (held, rule) = match bound {
        Bound::AtMost(t) => (longest <= t, format!("<= {t} ms")),
        Bound::AtLeast(t) => (longest >= t, format!(">= {t} ms")),
    };
    (
        Some(held),
        format!("longest outage {longest:.1} ms (rule: {rule})"),
    )
}

fn durable(results: &Results, kind: &str, command: &str, replicas: u64) -> Decision {
    let r = match decided(results, CheckerName::Wait) {
        Ok(r) => r,
        Err(why) => return (None, why),
    };
    let n = r.counts_by_kind().get(kind).copied().unwrap_or(0);
    (
        Some(n == 0),
        format!(
            "{kind} anomalies = {n} (rule: no lost write that {command} reported acknowledged \
             by >= {replicas} replicas)"
        ),
    )
}

fn session(results: &Results, kind: &str, stat: &str) -> Decision {
    let r = match decided(results, CheckerName::Session) {
        Ok(r) => r,
        Err(why) => return (None, why),
    };
    // The statistic counts every violation; the anomaly list may be capped.
    let n = r
        .stat(stat)
        .unwrap_or_else(|| r.counts_by_kind().get(kind).copied().unwrap_or(0) as f64);
    (
        Some(n == 0.0),
        format!("{kind} violations = {n} (rule: = 0)"),
    )
}

fn checker_valid(results: &Results, name: CheckerName) -> Decision {
    match decided(results, name) {
        Ok(r) if r.valid == Validity::Valid => (Some(true), format!("checker {name}: valid")),
        Ok(r) => {
            let kinds: Vec<String> = r
                .counts_by_kind()
                .into_iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            (
                Some(false),
                format!("checker {name}: invalid ({})", kinds.join(", ")),
            )
        }
        Err(why) => (None, why),
    }
}

#[cfg(test)]
mod tests;
