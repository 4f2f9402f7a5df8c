//! `lost-within=MS`: a loss window as a promise. It holds when every lost write was
//! acknowledged at most MS before the fault that lost it, the fault being the one
//! [`crate::lost_writes::faults::FaultLog::that_lost`] charges (the first kill, power loss,
//! pause, partition, promotion or failover of the write's node not yet done when the write was
//! sent).
//!
//! `appendfsync everysec` promises such a window ("you may lose 1 second of data"), not
//! "nothing": a rule that says "nothing" breaks whenever the window is hit, and a rule that
//! only counts (`lost-writes<=N`) passes a server that loses a minute of writes, so long as
//! few were written. The window is measured per write, from the lost-writes checker's
//! statistics (`lost_age_ms_max` and its witness `lost_oldest`; `lost_without_fault` for writes
//! no fault can be charged with, which no window covers), so the rule decides the same however
//! many anomalies the checker lists.

use super::{decided, Decision};
use crate::names::stat;
use crate::registry::CheckerName;
use crate::result::Results;
use serde_json::Value;

/// Decides `lost-within=limit_ms` from the lost-writes checker.
pub fn lost_within(results: &Results, limit_ms: f64) -> Decision {
    let r = match decided(results, CheckerName::LostWrites) {
        Ok(r) => r,
        Err(why) => return (None, why),
    };
    let rule = format!("rule: every lost write acknowledged <= {limit_ms} ms before its fault");
    let Some(lost) = r.stat(stat::LOST) else {
        return (
            None,
            "checker lost-writes reported no `lost` statistic".into(),
        );
    };
    if lost == 0.0 {
        return (Some(true), format!("lost = 0 ({rule})"));
    }
    let missing = |name: &str| {
        (
            None,
            format!(
                "checker lost-writes reported no `{name}` statistic (results from before \
                 redline measured loss windows: re-check the history)"
            ),
        )
    };
    let Some(without) = r.stat(stat::LOST_WITHOUT_FAULT) else {
        return missing(stat::LOST_WITHOUT_FAULT);
    };
    if without > 0.0 {
        let first = witness(r.stats.get(stat::LOST_WITHOUT_FAULT_FIRST));
        return (
            Some(false),
            format!(
                "{without} of {lost} lost writes have no fault to be charged with (no fault of \
                 their node was under way, invoked and not yet done without an error, or began \
                 between their sending and the final read), so no window covers them; the \
                 first: {first} ({rule})"
            ),
        );
    }
    let Some(max) = r.stat(stat::LOST_AGE_MS_MAX) else {
        return missing(stat::LOST_AGE_MS_MAX);
    };
    let oldest = witness(r.stats.get(stat::LOST_OLDEST));
    let held = max <= limit_ms;
    let what = if held {
        format!("all {lost} lost writes within {max} ms of their fault; the oldest: {oldest}")
    } else {
        format!("a lost write outside the window: {oldest}; {lost} lost in all")
    };
    (Some(held), format!("{what} ({rule})"))
}

/// `element 812 of key s (ops [40, 41]) acknowledged at 3000.1 ms, 2100.3 ms before kill n1
/// at 5100.4 ms (op 77)`, from a witness object of the lost-writes statistics.
fn witness(w: Option<&Value>) -> String {
    let Some(w) = w.filter(|w| w.is_object()) else {
        return "(not recorded)".to_string();
    };
    let text = |k: &str| w.get(k).map_or("?".to_string(), |v| v.to_string());
    let key = w.get("key").and_then(Value::as_str).unwrap_or("(none)");
    let known = w.get("known_ms").and_then(Value::as_f64);
    let mut words = format!(
        "element {} of key {key} (ops {})",
        text("element"),
        text("ops")
    );
    if let Some(k) = known {
        words.push_str(&format!(" acknowledged at {k:.1} ms"));
    }
    if let (Some(age), Some(fault)) = (
        w.get("age_ms").and_then(Value::as_f64),
        w.get("fault").and_then(Value::as_str),
    ) {
        if age >= 0.0 {
            words.push_str(&format!(", {age:.1} ms before {fault}"));
        } else {
            words.push_str(&format!(", {:.1} ms after {fault} began", -age));
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::{evaluate, Rule};
    use crate::final_reads::test_support::Builder;
    use crate::history::History;
    use crate::registry::{run_one, CheckOptions};
    use crate::result::ExpectationOutcome;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// `add v` by `process`, acknowledged by n1 at `ack` ms.
    fn add(b: Builder, sent: f64, ack: f64, process: u64, v: i64) -> Builder {
        b.invoke(sent, process, "add", json!(v))
            .node("n1")
            .ok(ack, process, "add", json!(v))
            .node("n1")
    }

    fn kill(b: Builder, ms: f64, node: &str) -> Builder {
        b.nemesis(ms, "invoke", "kill", json!([node])).nemesis(
            ms + 1.0,
            "info",
            "kill",
            json!([node]),
        )
    }

    /// The final read of the master n1 at 100 ms, returning `elements`.
    fn finals(b: Builder, elements: serde_json::Value) -> History {
        b.topology(99.0, "n1")
            .invoke(100.0, 90, "read", serde_json::Value::Null)
            .with(json!({"node": "n1", "final": true}))
            .ok(101.0, 90, "read", elements)
            .with(json!({"node": "n1", "final": true}))
            .build()
    }

    fn decide(history: &History, rule: &str) -> ExpectationOutcome {
        let result = run_one(CheckerName::LostWrites, history, &CheckOptions::default());
        let mut checkers = BTreeMap::new();
        checkers.insert(CheckerName::LostWrites.as_str().to_string(), result);
        let rule: Rule = rule.parse().unwrap();
        evaluate(&[rule], &Results::new(checkers)).remove(0)
    }

    #[test]
    fn holds_when_every_lost_write_was_acknowledged_within_the_window() {
        // Elements 1 and 2 acknowledged at 10 and 40 ms; the kill of n1 at 50 ms loses both.
        let b = add(Builder::with_key("s"), 5.0, 10.0, 0, 1);
        let b = kill(add(b, 35.0, 40.0, 1, 2), 50.0, "n1");
        let h = finals(b, json!([]));
        let o = decide(&h, "lost-within=40");
        assert_eq!(o.held, Some(true), "{}", o.detail);
        assert!(
            o.detail
                .contains("all 2 lost writes within 40 ms of their fault"),
            "{}",
            o.detail
        );
        assert!(
            o.detail.contains("element 1 of key s (ops [0,1])"),
            "{}",
            o.detail
        );
    }

    #[test]
    fn breaks_on_a_write_acknowledged_before_the_window_and_names_it() {
        let b = add(Builder::with_key("s"), 5.0, 10.0, 0, 1);
        let b = kill(add(b, 35.0, 40.0, 1, 2), 50.0, "n1");
        let h = finals(b, json!([]));
        let o = decide(&h, "lost-within=39.5");
        assert_eq!(o.held, Some(false));
        assert_eq!(
            o.detail,
            "a lost write outside the window: element 1 of key s (ops [0,1]) acknowledged at \
             10.0 ms, 40.0 ms before kill n1 at 50.0 ms (op 4); 2 lost in all (rule: every lost \
             write acknowledged <= 39.5 ms before its fault)"
        );
    }

    #[test]
    fn only_a_fault_of_the_writes_node_is_charged() {
        // n2's kill at 20 ms did not lose n1's write; n1's at 90 ms did, 80 ms after the ack.
        let b = add(Builder::with_key("s"), 5.0, 10.0, 0, 1);
        let b = kill(kill(b, 20.0, "n2"), 90.0, "n1");
        let o = decide(&finals(b, json!([])), "lost-within=50");
        assert_eq!(o.held, Some(false));
        assert!(
            o.detail.contains("80.0 ms before kill n1 at 90.0 ms"),
            "{}",
            o.detail
        );
    }

    #[test]
    fn a_reply_that_arrives_after_the_kill_is_inside_any_window() {
        // Sent at 45 ms, the kill at 50 ms, the reply (sent just before the server died) read
        // at 52 ms: acknowledged 2 ms after the fault began.
        let b = kill(Builder::with_key("s"), 50.0, "n1");
        let b = add(b, 45.0, 52.0, 0, 1);
        let o = decide(&finals(b, json!([])), "lost-within=0");
        assert_eq!(o.held, Some(true), "{}", o.detail);
        assert!(
            o.detail.contains("2.0 ms after kill n1 at 50.0 ms"),
            "{}",
            o.detail
        );
    }

    /// Asserts `o`'s verdict and a fragment of its detail.
    fn outcome_is(o: &ExpectationOutcome, held: Option<bool>, fragment: &str) {
        assert_eq!(o.held, held, "{}", o.detail);
        assert!(o.detail.contains(fragment), "{}", o.detail);
    }

    /// A power loss invoked at 50 ms and done at 60 ms (the node killed at some moment in
    /// between).
    fn slow_power_loss(b: Builder) -> Builder {
        b.nemesis(50.0, "invoke", "power-loss", json!(["n1"]))
            .nemesis(60.0, "info", "power-loss", json!({"nodes": ["n1"]}))
    }

    #[test]
    fn a_write_sent_while_a_fault_is_acting_is_charged_to_it() {
        // Sent at 52 ms, after the power loss was invoked and before it was done, acknowledged
        // at 53 ms and lost: the power loss lost it, 3 ms after it began. (A nightly run broke
        // `lost-within` with "no fault to be charged with" on exactly this.)
        let b = add(slow_power_loss(Builder::with_key("s")), 52.0, 53.0, 0, 1);
        let o = decide(&finals(b, json!([])), "lost-within=0");
        outcome_is(&o, Some(true), "3.0 ms after power-loss n1 at 50.0 ms");
        // Sent once the power loss was done: no fault of n1 can have lost it.
        let b = add(slow_power_loss(Builder::with_key("s")), 61.0, 62.0, 0, 1);
        let o = decide(&finals(b, json!([])), "lost-within=100000");
        outcome_is(&o, Some(false), "no fault to be charged with");
    }

    #[test]
    fn a_fault_under_way_is_charged_before_a_later_one_and_up_to_its_completion() {
        // Sent at 52 ms during the power loss, lost; n1 is killed again at 90 ms. The power
        // loss lost it, not the later kill (which would put it 37 ms before its fault).
        let b = add(slow_power_loss(Builder::with_key("s")), 52.0, 53.0, 0, 1);
        let o = decide(&finals(kill(b, 90.0, "n1"), json!([])), "lost-within=0");
        outcome_is(&o, Some(true), "power-loss n1 at 50.0 ms");
        // Sent at the very moment the power loss was done: it may still have lost it.
        let b = add(slow_power_loss(Builder::with_key("s")), 60.0, 60.5, 0, 1);
        let o = decide(&finals(b, json!([])), "lost-within=0");
        assert_eq!(o.held, Some(true), "{}", o.detail);
    }

    #[test]
    fn a_fault_that_failed_part_way_is_charged_only_from_its_invocation() {
        // The power loss's completion carries an error: it is not known to have acted after it
        // began, so the write sent at 52 ms is the later kill's, 37 ms before it.
        let b = Builder::with_key("s")
            .nemesis(50.0, "invoke", "power-loss", json!(["n1"]))
            .nemesis(60.0, "info", "power-loss", json!({"nodes": ["n1"]}))
            .with(json!({"error": "lazyfs: timed out"}));
        let b = kill(add(b, 52.0, 53.0, 0, 1), 90.0, "n1");
        let o = decide(&finals(b, json!([])), "lost-within=30");
        outcome_is(&o, Some(false), "37.0 ms before kill n1 at 90.0 ms");
    }

    #[test]
    fn a_loss_no_fault_explains_breaks_any_window() {
        let b = add(Builder::with_key("s"), 5.0, 10.0, 0, 1);
        let o = decide(&finals(b, json!([])), "lost-within=100000");
        assert_eq!(o.held, Some(false));
        assert!(
            o.detail
                .starts_with("1 of 1 lost writes have no fault to be charged with"),
            "{}",
            o.detail
        );
        assert!(o
            .detail
            .contains("element 1 of key s (ops [0,1]) acknowledged at 10.0 ms"));
    }

    #[test]
    fn nothing_lost_holds_and_no_final_read_is_undecided() {
        let b = kill(add(Builder::with_key("s"), 5.0, 10.0, 0, 1), 50.0, "n1");
        let o = decide(&finals(b, json!([1])), "lost-within=0");
        assert_eq!(o.held, Some(true));
        assert!(o.detail.starts_with("lost = 0"), "{}", o.detail);
        let b = kill(add(Builder::with_key("s"), 5.0, 10.0, 0, 1), 50.0, "n1");
        let o = decide(&b.build(), "lost-within=0");
        assert_eq!(o.held, None, "{}", o.detail);
    }

    #[test]
    fn results_from_before_windows_were_measured_are_undecided() {
        let mut stats = serde_json::Map::new();
        stats.insert("lost".into(), json!(3));
        let mut checkers = BTreeMap::new();
        checkers.insert(
            "lost-writes".to_string(),
            crate::result::CheckResult::from_anomalies(Vec::new(), stats),
        );
        let (held, detail) = lost_within(&Results::new(checkers), 1000.0);
        assert_eq!(held, None);
        assert!(detail.contains("lost_without_fault"), "{detail}");
    }
}
