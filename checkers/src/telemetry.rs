//! The telemetry a run records beside its history (`telemetry.jsonl`), as data a checker may
//! read: per node, the `INFO persistence` samples the observer took every 250 ms.
//!
//! Telemetry is evidence, never a verdict: it explains *why* a node lost what it lost (a
//! background fsync pending, an AOF buffer not yet written at the kill), and no checker's
//! verdict, statistic or `--expect` rule changes with it or without it. So a bare history
//! (`redline check`) checks exactly as the run did; only some explanations are shorter.
//!
//! A sample is an observer `replication` record whose value carries a `persistence` object
//! ([`Persistence`]); records without one (runs before redline kept it, foreign histories) are
//! simply not persistence samples.

use crate::history::{Function, Op, OpType, Process};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The fields of `INFO persistence` worth keeping, under Redis's own names so a reader can look
/// each one up in Redis's documentation. Flags and counts that are zero (and statuses that are
/// `ok`) are left out of the record: the sampler writes one per node four times a second, and
/// a quiet node's sample is then `{"aof_enabled":1}` plus its change count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persistence {
    /// 1 when the AOF is on.
    #[serde(default)]
    pub aof_enabled: u8,
    /// Background fsyncs of the AOF queued or running (`BIO_AOF_FSYNC` jobs). While one runs,
    /// `appendfsync everysec` postpones writing its buffer (up to 2 s) and replies anyway.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aof_pending_bio_fsync: u64,
    /// Bytes of acknowledged commands in the AOF buffer, not yet written to the file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aof_buffer_length: u64,
    /// Times the AOF write was postponed past the 2 s limit since the server started.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aof_delayed_fsync: u64,
    /// `ok`, or `err` after a failed AOF write.
    #[serde(default = "ok", skip_serializing_if = "is_ok")]
    pub aof_last_write_status: String,
    /// 1 while an AOF rewrite child runs.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub aof_rewrite_in_progress: u8,
    /// 1 while an RDB save child runs.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub rdb_bgsave_in_progress: u8,
    /// `ok`, or `err` after a failed RDB save.
    #[serde(default = "ok", skip_serializing_if = "is_ok")]
    pub rdb_last_bgsave_status: String,
    /// Writes since the last RDB save: what an RDB-only node loses with its process.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rdb_changes_since_last_save: u64,
    /// 1 while the server loads its data set at start.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub loading: u8,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

fn ok() -> String {
    "ok".to_string()
}

fn is_ok(s: &String) -> bool {
    s == "ok"
}

impl Default for Persistence {
    /// AOF off, nothing pending, statuses `ok`.
    fn default() -> Persistence {
        Persistence {
            aof_enabled: 0,
            aof_pending_bio_fsync: 0,
            aof_buffer_length: 0,
            aof_delayed_fsync: 0,
            aof_last_write_status: ok(),
            aof_rewrite_in_progress: 0,
            rdb_bgsave_in_progress: 0,
            rdb_last_bgsave_status: ok(),
            rdb_changes_since_last_save: 0,
            loading: 0,
        }
    }
}

impl Persistence {
    /// The key of the object inside an observer `replication` record's value.
    pub const FIELD: &'static str = "persistence";

    pub fn aof_on(&self) -> bool {
        self.aof_enabled != 0
    }

    /// What in a sample is worth saying, in words (`a background fsync pending`) and as the
    /// `field value` pairs that show it; both empty for a quiet node with AOF on.
    pub fn notable(&self) -> (Vec<String>, Vec<String>) {
        let mut had = Vec::new();
        let mut fields = Vec::new();
        let mut say = |words: String, field: String| {
            had.push(words);
            fields.push(field);
        };
        if !self.aof_on() {
            let changes = self.rdb_changes_since_last_save;
            say(
                format!("AOF off and {changes} changes since its last RDB save"),
                format!("aof_enabled 0, rdb_changes_since_last_save {changes}"),
            );
        }
        if self.aof_on() && self.aof_pending_bio_fsync > 0 {
            say(
                "a background fsync pending".into(),
                format!("aof_pending_bio_fsync {}", self.aof_pending_bio_fsync),
            );
        }
        if self.aof_on() && self.aof_buffer_length > 0 {
            say(
                format!("{} of AOF buffer unwritten", bytes(self.aof_buffer_length)),
                format!("aof_buffer_length {}", self.aof_buffer_length),
            );
        }
        if self.aof_on() && self.aof_delayed_fsync > 0 {
            say(
                format!(
                    "postponed its AOF write past the 2 s limit {} time(s) since it started",
                    self.aof_delayed_fsync
                ),
                format!("aof_delayed_fsync {}", self.aof_delayed_fsync),
            );
        }
        if self.aof_on() && self.aof_last_write_status != "ok" {
            say(
                "its last AOF write failed".into(),
                format!("aof_last_write_status {}", self.aof_last_write_status),
            );
        }
        if self.aof_on() && self.aof_rewrite_in_progress != 0 {
            say(
                "an AOF rewrite running".into(),
                "aof_rewrite_in_progress 1".into(),
            );
        }
        if self.rdb_bgsave_in_progress != 0 {
            say(
                "an RDB save running".into(),
                "rdb_bgsave_in_progress 1".into(),
            );
        }
        (had, fields)
    }
}

/// `48 KB`, `512 bytes`.
pub fn bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} bytes")
    } else {
        format!("{} KB", (n + 500) / 1000)
    }
}

/// One sample: when it was taken (ns since the run started) and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceSample {
    pub time: u64,
    pub persistence: Persistence,
}

impl PersistenceSample {
    pub fn time_ms(&self) -> f64 {
        self.time as f64 / 1e6
    }
}

/// A telemetry record as the observer writes it: an `info` `replication` record of `node` at
/// `time` (ns since the run began), whose value holds the node's `INFO replication` fields and,
/// under [`Persistence::FIELD`], its [`Persistence`].
pub fn sample_record(time: u64, node: &str, value: serde_json::Value) -> Op {
    let mut op = Op::new(
        0,
        time,
        Process::Observer,
        OpType::Info,
        Function::Replication,
    );
    op.node = Some(node.into());
    op.value = value;
    op
}

/// A run's telemetry, by node, in time order. Cheap to clone (shared), so it can ride in
/// [`crate::CheckOptions`]; empty by default.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    persistence: Arc<BTreeMap<String, Vec<PersistenceSample>>>,
}

impl Telemetry {
    /// The samples among `records` (observer `replication` records naming a node and carrying
    /// a `persistence` object); anything else is ignored, and a malformed object is skipped.
    pub fn from_records(records: &[Op]) -> Telemetry {
        let mut by_node: BTreeMap<String, Vec<PersistenceSample>> = BTreeMap::new();
        for op in records {
            if op.process != Process::Observer || op.f != Function::Replication {
                continue;
            }
            let (Some(node), Some(value)) = (&op.node, op.value.get(Persistence::FIELD)) else {
                continue;
            };
            let Ok(persistence) = Persistence::deserialize(value) else {
                continue;
            };
            by_node
                .entry(node.to_string())
                .or_default()
                .push(PersistenceSample {
                    time: op.time,
                    persistence,
                });
        }
        for samples in by_node.values_mut() {
            samples.sort_by_key(|s| s.time);
        }
        Telemetry {
            persistence: Arc::new(by_node),
        }
    }

    /// No persistence sample at all (a bare history, or a run before redline kept them).
    pub fn is_empty(&self) -> bool {
        self.persistence.is_empty()
    }

    /// Every node with samples, and its samples in time order.
    pub fn persistence(&self) -> impl Iterator<Item = (&str, &[PersistenceSample])> {
        self.persistence
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
    }

    /// `node`'s last sample taken at or before `time` (ns).
    pub fn persistence_before(&self, node: &str, time: u64) -> Option<&PersistenceSample> {
        let samples = self.persistence.get(node)?;
        let after = samples.partition_point(|s| s.time <= time);
        after.checked_sub(1).map(|i| &samples[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(ms: u64, node: &str, value: serde_json::Value) -> Op {
        sample_record(ms * 1_000_000, node, value)
    }

    #[test]
    fn keeps_what_was_sampled_and_leaves_out_zeros() {
        let busy = Persistence {
            aof_enabled: 1,
            aof_pending_bio_fsync: 1,
            aof_buffer_length: 48213,
            ..Persistence::default()
        };
        let text = serde_json::to_string(&busy).unwrap();
        assert_eq!(
            text,
            r#"{"aof_enabled":1,"aof_pending_bio_fsync":1,"aof_buffer_length":48213}"#
        );
        let back: Persistence = serde_json::from_str(&text).unwrap();
        assert_eq!(back, busy);
        assert_eq!(back.aof_last_write_status, "ok");
        assert_eq!(
            (bytes(999).as_str(), bytes(48213).as_str()),
            ("999 bytes", "48 KB")
        );
        let quiet = Persistence {
            aof_enabled: 1,
            ..Persistence::default()
        };
        assert!(quiet.notable().0.is_empty());
    }

    #[test]
    fn finds_the_last_sample_before_a_moment() {
        let t = Telemetry::from_records(&[
            sample(
                500,
                "n1",
                json!({"role": "master", "persistence": {"aof_enabled": 1}}),
            ),
            sample(
                250,
                "n1",
                json!({"role": "master", "persistence": {"aof_enabled": 1,
                                     "aof_buffer_length": 10}}),
            ),
            sample(250, "n2", json!({"role": "slave"})), // before redline kept persistence
            sample(300, "n3", json!({"persistence": "garbled"})),
        ]);
        assert!(!t.is_empty());
        assert_eq!(t.persistence().count(), 1, "only n1 has samples");
        let s = t.persistence_before("n1", 499_999_999).unwrap();
        assert_eq!((s.time_ms(), s.persistence.aof_buffer_length), (250.0, 10));
        assert_eq!(
            t.persistence_before("n1", 500_000_000).unwrap().time,
            500_000_000
        );
        assert!(t.persistence_before("n1", 1).is_none());
        assert!(t.persistence_before("n2", 900_000_000).is_none());
        assert!(Telemetry::default().is_empty());
    }
}
