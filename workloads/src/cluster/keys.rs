//! Keys in a cluster: every key carries a hash tag chosen so that the keys spread over every
//! shard as the cluster starts (group `g` lands in shard `g % shards`'s first slots), and so
//! that keys which must share a slot share a tag: a list-append transaction's keys are one
//! group, so its `MULTI`/`EXEC` stays on one node.
//!
//! The tag of a group is the first `{g.t}` (t = 0, 1, ...) whose slot is in its shard's
//! initial range: a pure function of the group and the shard count, so the generator, the
//! final reads and a reader of the history all name the same Redis key.

use super::slot::{hash_slot, initial_slots};
use crate::config::WorkloadConfig;
use redline_checkers::Op;

/// The hash tag (without braces) of key group `group` among `shards` shards.
pub fn tag(group: usize, shards: usize) -> String {
    let shards = shards.max(1);
    let (first, last) = initial_slots(group % shards + 1, shards);
    (0u64..)
        .map(|t| format!("{group}.{t}"))
        .find(|tag| (first..=last).contains(&hash_slot(tag.as_bytes())))
        .unwrap_or_default()
}

impl WorkloadConfig {
    /// Whether the run is on a Redis Cluster (`--topology cluster`).
    pub fn is_cluster(&self) -> bool {
        self.shards > 0
    }

    /// `key` as it is named on this run's servers: unchanged on a standalone topology, with
    /// group `group`'s hash tag in a cluster.
    pub fn place(&self, key: String, group: usize) -> String {
        if !self.is_cluster() {
            return key;
        }
        format!("{key}{{{}}}", tag(group, self.shards))
    }

    /// The slot `op` goes to in a cluster: its workload's routing key's.
    pub fn slot_of(&self, op: &Op) -> Option<u16> {
        let key = self.workload.routing_key(op, self)?;
        Some(hash_slot(key.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_gets_its_groups() {
        for shards in 1..=7 {
            for group in 0..20 {
                let t = tag(group, shards);
                let (a, b) = initial_slots(group % shards + 1, shards);
                assert!(
                    (a..=b).contains(&hash_slot(t.as_bytes())),
                    "{group} {shards}"
                );
            }
        }
        let cfg = WorkloadConfig {
            shards: 3,
            ..WorkloadConfig::default()
        };
        let key = cfg.place("set7".to_string(), 7);
        assert_eq!(key, format!("set7{{{}}}", tag(7, 3)));
        assert_eq!(WorkloadConfig::default().place("set7".into(), 7), "set7");
    }
}
