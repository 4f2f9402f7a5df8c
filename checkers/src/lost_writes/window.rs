//! How long before the fault that lost it each lost write was known to exist: the measure a
//! loss window (`--expect lost-within=MS`) is judged by.
//!
//! A lost write's *age* is the invocation time of the fault that lost it
//! ([`FaultLog::that_lost`]) minus the write's known time (its acknowledgement, or the first
//! read that saw an indeterminate one). Negative when the acknowledgement came after the fault
//! began: the write was sent while the fault was under way and the server replied just before
//! it died, or a cut-off master acknowledged it during the partition. A lost write no fault
//! can be charged with has no age: no window covers it.
//!
//! The statistics carry what the rule needs whatever the anomaly list keeps: the largest age
//! with its witness (`lost_oldest`), and the writes with no fault (`lost_without_fault`, the
//! first of them as `lost_without_fault_first`).

use super::analysis::{Element, KeyAnalysis};
use super::faults::{self, FaultLog};
use crate::history::Op;
use crate::names::stat;
use crate::quantiles::{quantile, sorted};
use serde_json::{json, Map, Value};

/// The fault charged with a lost write, and the write's age at it.
#[derive(Debug, Clone, Copy)]
pub struct Charge<'h> {
    pub fault: &'h Op,
    /// Fault invocation minus known time, in ms.
    pub age_ms: f64,
}

/// The charge of a lost element, looked for up to `until` (its key's final read).
pub fn charge<'h>(log: &FaultLog<'h>, e: &Element<'h>, until: u64) -> Option<Charge<'h>> {
    let node = crate::final_reads::node_of(&e.add);
    let fault = log.that_lost(node, e.add.invoke.time, until)?;
    let known = e.known.map_or(e.add.last().time, |k| k.0);
    Some(Charge {
        fault,
        age_ms: (fault.time as f64 - known as f64) / 1e6,
    })
}

/// A lost write in words and numbers, for the statistics' witnesses.
fn witness(key: &KeyAnalysis<'_>, e: &Element<'_>, charge: Option<&Charge<'_>>) -> Value {
    let mut w = json!({
        "element": e.element,
        "key": key.key,
        "ops": e.add.indices(),
        "known_ms": e.known.map(|k| k.0 as f64 / 1e6),
    });
    if let Some(c) = charge {
        w["fault"] = json!(faults::describe(c.fault));
        w["fault_op"] = json!(c.fault.index);
        w["fault_ms"] = json!(c.fault.time_ms());
        w["age_ms"] = json!(round(c.age_ms));
    }
    w
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

/// The loss-window statistics over every lost element and its charge.
pub fn stats<'h>(
    lost: &[(&KeyAnalysis<'h>, &Element<'h>, Option<Charge<'h>>)],
    m: &mut Map<String, Value>,
) {
    let ages = sorted(
        lost.iter()
            .filter_map(|(_, _, c)| c.map(|c| c.age_ms))
            .collect(),
    );
    m.insert(
        stat::LOST_AGE_MS_MAX.into(),
        json!(quantile(&ages, 1.0).map(round)),
    );
    m.insert(
        stat::LOST_AGE_MS_P50.into(),
        json!(quantile(&ages, 0.5).map(round)),
    );
    let oldest = lost
        .iter()
        .filter_map(|(k, e, c)| c.as_ref().map(|c| (k, e, c)))
        .max_by(|a, b| a.2.age_ms.total_cmp(&b.2.age_ms));
    m.insert(
        stat::LOST_OLDEST.into(),
        oldest.map_or(Value::Null, |(k, e, c)| witness(k, e, Some(c))),
    );
    let mut without: Vec<_> = lost.iter().filter(|(_, _, c)| c.is_none()).collect();
    without.sort_by_key(|(_, e, _)| e.add.invoke.index);
    m.insert(stat::LOST_WITHOUT_FAULT.into(), json!(without.len()));
    m.insert(
        stat::LOST_WITHOUT_FAULT_FIRST.into(),
        without
            .first()
            .map_or(Value::Null, |(k, e, _)| witness(k, e, None)),
    );
}

/// The sentence a lost write's explanation gives its charge.
pub fn words(charge: Option<&Charge<'_>>, acknowledged: &str) -> String {
    const LEAD: &str = "The fault that lost it (the first of its node's under way when the add \
                        was sent or begun since)";
    match charge {
        Some(c) if c.age_ms >= 0.0 => format!(
            "{LEAD}: {}, {:.1} ms after it was {acknowledged}.",
            faults::describe(c.fault),
            c.age_ms
        ),
        Some(c) => format!(
            "{LEAD}: {}, {:.1} ms before it was {acknowledged}.",
            faults::describe(c.fault),
            -c.age_ms
        ),
        None => "No fault of its node was under way (invoked and not yet done without an \
                 error) when the add was sent or began between then and the final read, so no \
                 fault can be charged with its loss."
            .to_string(),
    }
}
