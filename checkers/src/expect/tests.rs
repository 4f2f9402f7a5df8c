//! Rule parsing (good and bad), evaluation (held, broken, undecided) and the verdict.

use super::*;
use crate::result::{Anomaly, CheckResult};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn parse(s: &str) -> Rule {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A decided checker result with the given stats and one anomaly per kind listed.
fn checker(stats: Value, kinds: &[&str]) -> CheckResult {
    let anomalies = kinds
        .iter()
        .map(|k| Anomaly::new(k, vec![0], "test".into()))
        .collect();
    let stats = stats.as_object().cloned().unwrap_or_default();
    CheckResult::from_anomalies(anomalies, stats)
}

fn results(list: Vec<(&str, CheckResult)>) -> Results {
    let map: BTreeMap<String, CheckResult> =
        list.into_iter().map(|(n, r)| (n.to_string(), r)).collect();
    Results::new(map)
}

fn one(rule: &str, r: &Results) -> ExpectationOutcome {
    let mut v = evaluate(&[parse(rule)], r);
    assert_eq!(v.len(), 1);
    v.remove(0)
}

#[test]
fn every_rule_form_parses_and_round_trips() {
    for text in [
        "valid",
        "no-lost-writes",
        "lost-writes<=3",
        "lost-writes>=1",
        "lost-within=2000",
        "lost-within=1500.5",
        "no-stale-reads",
        "stale-reads<=5%",
        "stale-reads>=0.5%",
        "staleness-p99<=250ms",
        "outage<=500ms",
        "outage>=2000ms",
        "wait-durable=2",
        "waitaof-durable=1",
        "read-your-writes",
        "monotonic-reads",
        "linearizable",
        "serializable",
        "no-split-brain",
        "checker:txn-cycles",
    ] {
        let rule = parse(text);
        assert_eq!(rule.to_string(), text);
        assert_eq!(parse(&rule.to_string()), rule);
    }
}

#[test]
fn parsing_tolerates_spaces_and_bare_milliseconds() {
    assert_eq!(parse(" lost-writes <= 3 "), Rule::LostWritesAtMost(3));
    assert_eq!(parse("staleness-p99<=250"), Rule::StalenessP99AtMost(250.0));
    assert_eq!(parse("stale-reads<=2.5%"), Rule::StaleReadsAtMost(2.5));
    assert_eq!(parse("lost-within = 2000ms"), Rule::LostWithin(2000.0));
}

#[test]
fn bad_rules_are_refused_with_the_list_of_valid_rules() {
    for (text, reason) in [
        ("durable", "unknown rule"),
        ("", "empty"),
        ("lost-writes<=-1", "non-negative whole number"),
        ("lost-writes<=x", "non-negative whole number"),
        ("lost-writes=3", "unknown rule"),
        ("stale-reads<=5", "ending in %"),
        ("stale-reads<=0.05", "ending in %"),
        ("stale-reads<=150%", "between 0% and 100%"),
        ("staleness-p99<=-3ms", "milliseconds"),
        ("staleness-p99<=NaN", "milliseconds"),
        ("lost-within=-1", "milliseconds"),
        ("lost-within<=1000", "unknown rule"),
        ("wait-durable=two", "whole number"),
        ("checker:elle", "unknown checker"),
    ] {
        let err = text.parse::<Rule>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains(reason), "{text}: {message}");
        assert!(
            message.contains("valid rules: valid, no-lost-writes"),
            "{message}"
        );
    }
}

#[test]
fn parse_rules_stops_at_the_first_bad_rule() {
    assert_eq!(
        parse_rules(&["valid", "no-stale-reads"]).unwrap(),
        vec![Rule::Valid, Rule::NoStaleReads]
    );
    assert_eq!(parse_rules(&["valid", "nope"]).unwrap_err().rule, "nope");
}

#[test]
fn durability_rules_set_checker_options() {
    let mut opts = CheckOptions::default();
    apply_to_options(
        &[Rule::Valid, Rule::WaitDurable(2), Rule::WaitAofDurable(1)],
        &mut opts,
    );
    assert_eq!(opts.wait_durable, Some(2));
    assert_eq!(opts.waitaof_durable, Some(1));
}

#[test]
fn default_expectation_is_valid() {
    let r = results(vec![
        ("stale-reads", checker(json!({}), &[])),
        ("linearizable", CheckResult::skipped("replica reads")),
    ]);
    let outcomes = evaluate(&[], &r);
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].rule, "valid");
    assert_eq!(outcomes[0].held, Some(true));
    assert_eq!(outcomes[0].detail, "all valid: stale-reads");
}

#[test]
fn valid_is_broken_by_any_invalid_checker_and_undecided_by_unknown() {
    let broken = results(vec![
        ("stale-reads", checker(json!({}), &["stale-read"])),
        ("session", CheckResult::unknown("budget")),
    ]);
    let o = one("valid", &broken);
    assert_eq!(o.held, Some(false));
    assert!(o.detail.contains("invalid: stale-reads"), "{}", o.detail);
    let undecided = results(vec![
        ("stale-reads", checker(json!({}), &[])),
        ("session", CheckResult::unknown("budget")),
    ]);
    assert_eq!(one("valid", &undecided).held, None);
    assert_eq!(one("valid", &results(vec![])).held, None);
}

#[test]
fn lost_writes_rules() {
    let r = results(vec![(
        "lost-writes",
        checker(json!({"lost": 3}), &["lost"; 3]),
    )]);
    let o = one("no-lost-writes", &r);
    assert_eq!(o.held, Some(false));
    assert_eq!(o.detail, "lost = 3 (rule: <= 0), from checker lost-writes");
    assert_eq!(one("lost-writes<=3", &r).held, Some(true));
    assert_eq!(one("lost-writes<=2", &r).held, Some(false));
    assert_eq!(one("lost-writes>=1", &r).held, Some(true));
    assert_eq!(one("lost-writes>=4", &r).held, Some(false));
}

#[test]
fn lost_writes_falls_back_to_the_wait_checker() {
    let r = results(vec![
        ("lost-writes", CheckResult::skipped("no final read")),
        ("wait", checker(json!({}), &["lost", "wait-durable-lost"])),
    ]);
    let o = one("no-lost-writes", &r);
    assert_eq!(o.held, Some(false));
    assert!(o.detail.contains("lost = 1"), "{}", o.detail);
    assert!(o.detail.contains("checker wait"), "{}", o.detail);
}

#[test]
fn lost_writes_undecided_when_its_checker_could_not_decide() {
    let unknown = results(vec![
        ("lost-writes", CheckResult::unknown("no final read")),
        ("wait", checker(json!({"lost": 0}), &[])),
    ]);
    let o = one("no-lost-writes", &unknown);
    assert_eq!(o.held, None);
    assert!(
        o.detail.contains("could not decide: no final read"),
        "{}",
        o.detail
    );
    let absent = one("lost-writes>=1", &results(vec![]));
    assert_eq!(absent.held, None);
    assert!(absent.detail.contains("did not run"), "{}", absent.detail);
}

#[test]
fn stale_read_fraction_rules() {
    let stats = json!({"reads": 1000, "stale": 12, "staleness_ms_p99": 340.5});
    let r = results(vec![("stale-reads", checker(stats, &["stale-read"; 12]))]);
    let o = one("stale-reads<=5%", &r);
    assert_eq!(o.held, Some(true));
    assert_eq!(o.detail, "stale = 12 of 1000 reads = 1.200% (rule: <= 5%)");
    assert_eq!(one("stale-reads<=1.2%", &r).held, Some(true), "boundary");
    assert_eq!(one("stale-reads<=1%", &r).held, Some(false));
    assert_eq!(one("stale-reads>=1%", &r).held, Some(true));
    assert_eq!(one("stale-reads>=2%", &r).held, Some(false));
    assert_eq!(one("no-stale-reads", &r).held, Some(false));
}

#[test]
fn staleness_p99_rule() {
    let stats = json!({"reads": 1000, "stale": 12, "staleness_ms_p99": 340.5});
    let r = results(vec![("stale-reads", checker(stats, &["stale-read"]))]);
    let o = one("staleness-p99<=250", &r);
    assert_eq!(o.held, Some(false));
    assert_eq!(o.detail, "staleness p99 = 340.5 ms (rule: p99 <= 250 ms)");
    assert_eq!(one("staleness-p99<=500ms", &r).held, Some(true));
    let fresh = json!({"reads": 10, "stale": 0, "staleness_ms_p99": null});
    let r = results(vec![("stale-reads", checker(fresh, &[]))]);
    assert_eq!(one("staleness-p99<=1", &r).held, Some(true));
}

#[test]
fn stale_read_rules_undecided_without_reads_or_checker() {
    let none = json!({"reads": 0, "stale": 0});
    let r = results(vec![("stale-reads", checker(none, &[]))]);
    assert_eq!(one("stale-reads<=5%", &r).held, None);
    assert_eq!(one("staleness-p99<=5", &r).held, None);
    let skipped = results(vec![(
        "stale-reads",
        CheckResult::skipped("no register reads"),
    )]);
    let o = one("no-stale-reads", &skipped);
    assert_eq!(o.held, None);
    assert!(
        o.detail.contains("skipped: no register reads"),
        "{}",
        o.detail
    );
}

#[test]
fn outage_rules_read_the_longest_unavailability_window() {
    let stats = json!({"unavailability": {"total_ms": 9000.0, "max_ms": 3250.5, "windows": 2}});
    let r = results(vec![("availability", checker(stats, &[]))]);
    let o = one("outage>=2000", &r);
    assert_eq!(o.held, Some(true));
    assert_eq!(o.detail, "longest outage 3250.5 ms (rule: >= 2000 ms)");
    assert_eq!(one("outage>=3250.5ms", &r).held, Some(true), "boundary");
    assert_eq!(
        one("outage>=4000", &r).held,
        Some(false),
        "the longest, not the total"
    );
    assert_eq!(one("outage<=500ms", &r).held, Some(false));
    assert_eq!(one("outage<=3250.5", &r).held, Some(true), "boundary");
    // A run with no window reports 0.
    let none = json!({"unavailability": {"total_ms": -0.0, "max_ms": 0.0, "windows": 0}});
    let r = results(vec![("availability", checker(none, &[]))]);
    assert_eq!(one("outage<=0", &r).held, Some(true));
    // No client operation: availability could not decide, and neither can the rule.
    let mut unknown = checker(json!({}), &[]);
    unknown.valid = Validity::Unknown;
    let r = results(vec![("availability", unknown)]);
    assert_eq!(one("outage<=500", &r).held, None);
    let r = results(vec![("availability", checker(json!({}), &[]))]);
    let o = one("outage>=1", &r);
    assert_eq!(o.held, None);
    assert!(o.detail.contains("max_ms"), "{}", o.detail);
    assert_eq!(one("outage<=1", &results(vec![])).held, None);
}

#[test]
fn durability_rules_look_for_their_anomaly_kind() {
    let r = results(vec![("wait", checker(json!({}), &["wait-durable-lost"]))]);
    let o = one("wait-durable=2", &r);
    assert_eq!(o.held, Some(false));
    assert!(
        o.detail.starts_with("wait-durable-lost anomalies = 1"),
        "{}",
        o.detail
    );
    assert_eq!(one("waitaof-durable=1", &r).held, Some(true));
    assert_eq!(one("wait-durable=1", &results(vec![])).held, None);
}

#[test]
fn session_rules_use_the_exact_counts() {
    let stats = json!({"reads": 50, "read_your_writes": 1500, "monotonic_reads": 0});
    let r = results(vec![("session", checker(stats, &["read-your-writes"]))]);
    let o = one("read-your-writes", &r);
    assert_eq!(o.held, Some(false));
    assert_eq!(o.detail, "read-your-writes violations = 1500 (rule: = 0)");
    assert_eq!(one("monotonic-reads", &r).held, Some(true));
}

#[test]
fn checker_validity_rules() {
    let r = results(vec![
        (
            "linearizable",
            CheckResult::skipped("reads served by replicas"),
        ),
        (
            "txn-cycles",
            checker(json!({}), &["G-single-item", "G0", "G0"]),
        ),
        ("split-brain", checker(json!({}), &[])),
    ]);
    let lin = one("linearizable", &r);
    assert_eq!(lin.held, None);
    assert!(lin.detail.contains("reads served by replicas"));
    let ser = one("serializable", &r);
    assert_eq!(ser.held, Some(false));
    assert_eq!(
        ser.detail,
        "checker txn-cycles: invalid (1 G-single-item, 2 G0)"
    );
    assert_eq!(one("no-split-brain", &r).held, Some(true));
    assert_eq!(one("checker:split-brain", &r).held, Some(true));
    assert_eq!(one("checker:counter", &r).held, None);
}

#[test]
fn verdict_priority_and_exit_codes() {
    let o = |held| ExpectationOutcome {
        rule: "valid".into(),
        held,
        detail: String::new(),
    };
    assert_eq!(verdict(&[o(Some(true)), o(Some(true))]), Verdict::Held);
    assert_eq!(verdict(&[o(Some(true)), o(None)]), Verdict::Undecided);
    assert_eq!(verdict(&[o(None), o(Some(false))]), Verdict::Broken);
    assert_eq!(verdict(&[]), Verdict::Held);
    assert_eq!(Verdict::Held.exit_code(), 0);
    assert_eq!(Verdict::Broken.exit_code(), 1);
    assert_eq!(Verdict::Undecided.exit_code(), 2);
}
