//! The cluster's timeline, from the history's cluster `topology` records (see
//! [`cluster_value`](crate::history::cluster_value)): which nodes claimed a slot when, which
//! node owned a slot at the end, and the change that took a slot away from a node.
//!
//! A claim starts at the first record in which a node calls itself the primary of a slot and
//! ends at the first record in which it no longer does (or never, within the history). Records
//! come from 250 ms samples, so a claim is seen to start up to a sample late: a claim's start
//! is when the history *knew* of it, which is what a verdict may rest on; its `earliest` is
//! when it may have begun (the previous sample's start, which did not show it).

use crate::history::cluster_value::{cluster_changes, cluster_nodes, cluster_since, ClusterNodes};
use crate::history::{Function, History, Op, Process};

/// One cluster topology record.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub time: u64,
    /// The earliest its changes may have happened (the previous sample's start).
    pub since: u64,
    pub index: u64,
    pub nodes: ClusterNodes,
    pub changes: Vec<String>,
}

/// Every cluster topology record of a history, in order.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub snapshots: Vec<Snapshot>,
}

/// A span in which one node claimed one slot: `[start, end)`, `end` `None` while it lasted to
/// the end of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub node: String,
    pub epoch: u64,
    pub start: u64,
    /// The earliest the claim may have begun.
    pub earliest: u64,
    /// The record that showed the claim first.
    pub start_index: u64,
    pub end: Option<u64>,
}

/// Whether `op` is a cluster topology record.
pub fn is_cluster_record(op: &Op) -> bool {
    op.process == Process::Observer
        && op.f == Function::Topology
        && op.value.get("cluster").is_some()
}

impl Timeline {
    /// The cluster records of `history` (none for a standalone history).
    pub fn of(history: &History) -> Timeline {
        let snapshots = history
            .ops()
            .iter()
            .filter(|o| is_cluster_record(o))
            .filter_map(|o| {
                Some(Snapshot {
                    time: o.time,
                    since: cluster_since(&o.value).unwrap_or(0).min(o.time),
                    index: o.index,
                    nodes: cluster_nodes(&o.value)?,
                    changes: cluster_changes(&o.value)
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                })
            })
            .collect();
        Timeline { snapshots }
    }

    /// Whether the history is of a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        !self.snapshots.is_empty()
    }

    /// The last record strictly before `time`.
    pub fn before(&self, time: u64) -> Option<&Snapshot> {
        self.snapshots.iter().rev().find(|s| s.time < time)
    }

    /// The node that serves `slot` in `snapshot`: the claimant with the highest epoch.
    pub fn owner_in(snapshot: &Snapshot, slot: u16) -> Option<&str> {
        snapshot
            .nodes
            .iter()
            .filter(|(_, r)| r.claims(slot))
            .max_by_key(|(_, r)| r.epoch.unwrap_or(0))
            .map(|(n, _)| n.as_str())
    }

    /// Every claim of `slot`, in the order they started.
    pub fn claims(&self, slot: u16) -> Vec<Claim> {
        let mut claims: Vec<Claim> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for s in &self.snapshots {
            let now: Vec<(&String, u64)> = s
                .nodes
                .iter()
                .filter(|(_, r)| r.claims(slot))
                .map(|(n, r)| (n, r.epoch.unwrap_or(0)))
                .collect();
            open.retain(|&i| {
                let c = &mut claims[i];
                let still = now.iter().any(|(n, e)| **n == c.node && *e == c.epoch);
                if !still {
                    c.end = Some(s.time);
                }
                still
            });
            for (node, epoch) in now {
                if !open.iter().any(|&i| claims[i].node == *node) {
                    open.push(claims.len());
                    claims.push(Claim {
                        node: node.clone(),
                        epoch,
                        start: s.time,
                        earliest: s.since,
                        start_index: s.index,
                        end: None,
                    });
                }
            }
        }
        claims
    }

    /// The first claim of `slot` by a node other than `node` that started after `after`, or
    /// that was in force at `after` with a higher epoch than `node`'s: the change that took the
    /// slot away from `node`.
    pub fn taken_from(&self, slot: u16, node: &str, after: u64) -> Option<Claim> {
        let claims = self.claims(slot);
        let own_epoch = claims
            .iter()
            .filter(|c| c.node == node && c.start <= after)
            .map(|c| c.epoch)
            .max()
            .unwrap_or(0);
        claims.into_iter().find(|c| {
            c.node != node
                && c.end.is_none_or(|e| e > after)
                && (c.start > after || c.epoch > own_epoch)
        })
    }

    /// The record with index `index`.
    pub fn snapshot(&self, index: u64) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.index == index)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::history::cluster_value::{cluster_value, NodeRecord};
    use serde_json::{json, Value};

    /// A node of a test cluster record: `(node, shard, claimed range or primary followed,
    /// epoch)`.
    pub(crate) type TestNode<'a> = (&'a str, usize, Result<(u16, u16), &'a str>, u64);

    /// A cluster record value of `nodes`.
    pub(crate) fn record(nodes: &[TestNode<'_>]) -> Value {
        let nodes: ClusterNodes = nodes
            .iter()
            .map(|(n, shard, what, epoch)| {
                let r = match what {
                    Ok(range) => NodeRecord {
                        shard: *shard,
                        role: "primary".into(),
                        slots: vec![*range],
                        epoch: Some(*epoch),
                        of: None,
                        serving: true,
                    },
                    Err(of) => NodeRecord {
                        shard: *shard,
                        role: "replica".into(),
                        slots: Vec::new(),
                        epoch: None,
                        of: Some(of.to_string()),
                        serving: true,
                    },
                };
                (n.to_string(), r)
            })
            .collect();
        cluster_value(&nodes, &[], 0)
    }

    fn history(records: &[(f64, Value)]) -> History {
        let lines: Vec<String> = records
            .iter()
            .enumerate()
            .map(|(i, (ms, v))| {
                json!({"index": i, "time": (ms * 1e6) as u64, "process": "observer",
                       "type": "info", "f": "topology", "value": v})
                .to_string()
            })
            .collect();
        crate::history::jsonl::read_str(&lines.join("\n"))
            .unwrap()
            .history
    }

    #[test]
    fn claims_overlap_while_the_old_primary_has_not_learned() {
        let before = record(&[("n1", 1, Ok((0, 99)), 1), ("n2", 1, Err("n1"), 0)]);
        let both = record(&[("n1", 1, Ok((0, 99)), 1), ("n2", 1, Ok((0, 99)), 5)]);
        let after = record(&[("n1", 1, Err("n2"), 0), ("n2", 1, Ok((0, 99)), 5)]);
        let t = Timeline::of(&history(&[(0.0, before), (10.0, both), (20.0, after)]));
        assert!(t.is_cluster());
        let claims = t.claims(7);
        assert_eq!(claims.len(), 2);
        assert_eq!(
            (claims[0].node.as_str(), claims[0].end),
            ("n1", Some(20_000_000))
        );
        assert_eq!(
            (claims[1].node.as_str(), claims[1].start),
            ("n2", 10_000_000)
        );
        let taken = t.taken_from(7, "n1", 5_000_000).unwrap();
        assert_eq!((taken.node.as_str(), taken.epoch), ("n2", 5));
        // A write n1 acknowledged at 15 ms, when n2 already claimed the slot with a higher
        // epoch: the claim in force took it.
        assert_eq!(t.taken_from(7, "n1", 15_000_000).unwrap().node, "n2");
        assert!(t.taken_from(150, "n1", 0).is_none());
        assert_eq!(Timeline::owner_in(&t.snapshots[1], 7), Some("n2"));
    }
}
