//! What a checker returns: a verdict, anomalies with their witnesses, and statistics.
//!
//! Verdicts compose with Jepsen's priority: `false` beats `unknown` beats `true`. A checker that
//! does not apply to a history (say, linearizability on replica reads, where staleness is
//! expected) is *skipped* with its reason and takes no part in the composition.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A checker's verdict. Serialised as `true`, `false` or `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Invalid,
    /// The checker could not decide (budget exhausted, not enough information).
    Unknown,
}

impl Validity {
    /// Jepsen's composition: false beats unknown beats true.
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(Validity::Valid),
            Value::Bool(false) => Ok(Validity::Invalid),
            Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(de::Error::custom(format!(
                r#"valid must be true, false or "unknown", not {other}"#
            ))),
        }
    }
}

/// One finding, with the operations that prove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The anomaly kind, from DESIGN.md section 4 (`lost`, `stale-read`, `G-single-item`, ...).
    pub kind: String,
    /// Witness op indices (`Op::index`), in the order the explanation cites them.
    pub ops: Vec<u64>,
    /// One paragraph a person can verify by hand against the witness ops.
    pub explanation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Machine-readable details (staleness, acked count, cycle steps, ...).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl Anomaly {
    pub fn new(kind: &str, ops: Vec<u64>, explanation: String) -> Anomaly {
        Anomaly {
            kind: kind.to_string(),
            ops,
            explanation,
            key: None,
            details: Value::Null,
        }
    }

    pub fn with_key(mut self, key: impl AsRef<str>) -> Anomaly {
        self.key = Some(key.as_ref().into());
        self
    }

    pub fn with_details(mut self, details: Value) -> Anomaly {
        self.details = details;
        self
    }
}

fn shared_str<S: Serializer>(s: &Option<std::sync::Arc<str>>, to: S) -> Result<S::Ok, S::Error> {
    s.as_deref().serialize(to)
}

/// The outcome of one checker on one history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub valid: Validity,
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
    #[serde(default)]
    pub stats: Map<String, Value>,
    /// Why the checker did not apply; a skipped result takes no part in the overall verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Remarks a reader should see (what was left undecided, what was assumed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Anomalies found but not listed (a checker caps long lists), by kind; counts include them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub omitted: BTreeMap<String, u64>,
    /// Anomalies counted in `omitted` that a checker kept only in brief, for `anomalies.jsonl`:
    /// a run can find millions (every element lost when a master restarts empty), and a full
    /// [`Anomaly`] each, with its paragraph and details map, took several times the history's
    /// size in memory. Not part of `results.json`.
    #[serde(skip)]
    pub briefs: Vec<Brief>,
}

/// An anomaly in brief: its kind, key, witness ops and the few facts a script needs, without
/// the paragraph (the listed anomalies of its kind explain it in full). Counted in
/// [`CheckResult::omitted`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Brief {
    pub kind: &'static str,
    /// Witness op indices, as in [`Anomaly::ops`].
    pub ops: Vec<u64>,
    /// Shared by every brief of one key.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shared_str")]
    pub key: Option<std::sync::Arc<str>>,
    /// The element (or value) concerned.
    pub element: Value,
    /// The fault charged with it, if any (an op index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_op: Option<u64>,
}

impl CheckResult {
    /// A result whose verdict follows from its anomalies: invalid if there are any.
    pub fn from_anomalies(anomalies: Vec<Anomaly>, stats: Map<String, Value>) -> CheckResult {
        let valid = if anomalies.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        CheckResult {
            valid,
            anomalies,
            stats,
            skipped: None,
            notes: Vec::new(),
            omitted: BTreeMap::new(),
            briefs: Vec::new(),
        }
    }

    /// Keeps at most `cap` anomalies of `kind` (the first ones, in list order) and counts the
    /// rest in [`CheckResult::omitted`].
    pub fn cap_kind(&mut self, kind: &str, cap: usize) {
        let mut kept = 0usize;
        let mut dropped = 0u64;
        self.anomalies.retain(|a| {
            if a.kind != kind {
                return true;
            }
            kept += 1;
            let keep = kept <= cap;
            dropped += u64::from(!keep);
            keep
        });
        if dropped > 0 {
            *self.omitted.entry(kind.to_string()).or_default() += dropped;
        }
    }

    /// How many anomalies there are in all, listed or omitted.
    pub fn anomaly_count(&self) -> u64 {
        self.anomalies.len() as u64 + self.omitted.values().sum::<u64>()
    }

    /// A checker that does not apply to this history, with the reason.
    pub fn skipped(reason: impl Into<String>) -> CheckResult {
        CheckResult {
            valid: Validity::Valid,
            anomalies: Vec::new(),
            stats: Map::new(),
            skipped: Some(reason.into()),
            notes: Vec::new(),
            omitted: BTreeMap::new(),
            briefs: Vec::new(),
        }
    }

    /// A checker that could not decide, with the reason.
    pub fn unknown(reason: impl Into<String>) -> CheckResult {
        CheckResult {
            valid: Validity::Unknown,
            anomalies: Vec::new(),
            stats: Map::new(),
            skipped: None,
            notes: vec![reason.into()],
            omitted: BTreeMap::new(),
            briefs: Vec::new(),
        }
    }

    /// Anomaly counts by kind, including the ones a capped list omits.
    pub fn counts_by_kind(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for a in &self.anomalies {
            *counts.entry(a.kind.clone()).or_insert(0) += 1;
        }
        for (kind, n) in &self.omitted {
            *counts.entry(kind.clone()).or_insert(0) += *n as usize;
        }
        counts
    }

    /// A statistic as a float, if present and numeric.
    pub fn stat(&self, name: &str) -> Option<f64> {
        self.stats.get(name).and_then(Value::as_f64)
    }
}

/// Whether one `--expect` rule held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationOutcome {
    pub rule: String,
    /// `None` when the rule could not be decided (its checker was unknown or did not run).
    pub held: Option<bool>,
    /// What was measured against the rule, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// How a history was read: its format, and which order stood for real time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSummary {
    /// `jsonl`, `json-array` or `edn`.
    pub format: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub gzip: bool,
    /// Records read.
    pub records: u64,
    /// `time` (every record had one) or `history-order` (some had none: record order is
    /// real-time order, as Elle reads it). DESIGN.md section 3.
    pub realtime_order: String,
    /// Whether values were `jepsen.independent` `[key value]` tuples.
    #[serde(default, skip_serializing_if = "is_false")]
    pub independent: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Every checker's result for one history: the schema of `results.json` (DESIGN.md section 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub valid: Validity,
    pub checkers: BTreeMap<String, CheckResult>,
    #[serde(default)]
    pub expectations: Vec<ExpectationOutcome>,
    /// The planned parts of the run that did not run in full (clients that performed no
    /// operation, a nemesis schedule cut short, final reads that never answered, an
    /// interruption), each with its reason. Empty for a complete run and for a history checked
    /// on its own; absent from the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
    /// How the history was read (`redline check`); absent for a live run's own history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputSummary>,
}

impl Results {
    /// Composes checker results; the overall verdict is the composition of the ones not skipped.
    pub fn new(checkers: BTreeMap<String, CheckResult>) -> Results {
        let valid = checkers
            .values()
            .filter(|r| r.skipped.is_none())
            .fold(Validity::Valid, |acc, r| acc.and(r.valid));
        Results {
            valid,
            checkers,
            expectations: Vec::new(),
            incomplete: Vec::new(),
            input: None,
        }
    }

    /// Records parts of the run that did not run. What the checkers saw is then only part of
    /// what was planned, so nothing is known to be valid: `valid` becomes `unknown` (an
    /// anomaly already found stays `false`: the ops that prove it did happen).
    pub fn mark_incomplete(&mut self, parts: impl IntoIterator<Item = String>) {
        self.incomplete.extend(parts);
        if !self.incomplete.is_empty() {
            self.valid = self.valid.and(Validity::Unknown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_priority() {
        use Validity::*;
        assert_eq!(Valid.and(Unknown), Unknown);
        assert_eq!(Unknown.and(Invalid), Invalid);
        assert_eq!(Valid.and(Valid), Valid);
    }

    #[test]
    fn validity_serialises_as_design_says() {
        let v = serde_json::to_string(&[Validity::Valid, Validity::Invalid, Validity::Unknown])
            .unwrap();
        assert_eq!(v, r#"[true,false,"unknown"]"#);
    }

    #[test]
    fn capped_lists_still_count_every_anomaly() {
        let a = |kind: &str| Anomaly::new(kind, vec![1], "x".into());
        let mut r = CheckResult::from_anomalies(
            vec![a("stale-read"), a("stale-read"), a("stale-read"), a("lost")],
            Map::new(),
        );
        r.cap_kind("stale-read", 1);
        assert_eq!(r.anomalies.len(), 2);
        assert_eq!(r.anomaly_count(), 4);
        assert_eq!(r.counts_by_kind()["stale-read"], 3);
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn an_incomplete_run_is_never_valid_and_old_files_still_load() {
        let mut r = Results::new(BTreeMap::new());
        assert_eq!(r.valid, Validity::Valid);
        assert!(!serde_json::to_string(&r).unwrap().contains("incomplete"));
        r.mark_incomplete(["final reads: n2 never answered".to_string()]);
        assert_eq!(r.valid, Validity::Unknown);
        let back: Results = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let old: Results = serde_json::from_str(r#"{"valid": true, "checkers": {}}"#).unwrap();
        assert!(old.incomplete.is_empty());
    }

    #[test]
    fn skipped_checkers_do_not_vote() {
        let mut m = BTreeMap::new();
        m.insert("a".into(), CheckResult::skipped("replica reads"));
        m.insert("b".into(), CheckResult::from_anomalies(vec![], Map::new()));
        assert_eq!(Results::new(m).valid, Validity::Valid);
    }
}
