//! The shape of a Redis Cluster `topology` record's `value`, written and read in one place.
//!
//! On the cluster topology the harness records, as observer `topology` records, every node's
//! own view of itself whenever one changes (sampled from `CLUSTER NODES` and `CLUSTER INFO`
//! every 250 ms, through the harness's own addresses, which no fault cuts): whether it calls
//! itself a primary and of which slots, with which config epoch, or whose replica it is, and
//! whether it serves queries (`cluster_state:ok`). A node that does not answer (paused, dead)
//! keeps its last known entry. The first record comes before any client operation, and one
//! comes after convergence, before the final reads.
//!
//! ```text
//! {"cluster": {"n1": {"shard": 1, "role": "primary", "slots": [[0, 5460]], "epoch": 1,
//!                     "serving": true},
//!              "n2": {"shard": 1, "role": "replica", "of": "n1", "serving": true}, ...},
//!  "changes": ["n2 claims slots 0-5460 (epoch 7), which n1 claimed", ...],
//!  "since_ns": 8051000000}
//! ```
//!
//! `since_ns` is when the sample before this one began: every change the record shows happened
//! after it and before the record's own `time` (samples are 250 ms apart and each takes up to
//! 250 ms, so a change is recorded up to about half a second late).
//!
//! Two nodes claiming one slot at once is what a cut-off primary and the replica that took
//! over look like until the old one learns of the new epoch; the checkers read claims, and
//! acknowledged writes, to find such windows.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One node's own view of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The shard (1-based) the node started in.
    pub shard: usize,
    /// `primary` or `replica`.
    pub role: String,
    /// A primary's slot ranges, inclusive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<(u16, u16)>,
    /// A primary's config epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// A replica's primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    /// `cluster_state:ok`: the node serves queries.
    pub serving: bool,
}

impl NodeRecord {
    /// Whether the node claims `slot` as its primary.
    pub fn claims(&self, slot: u16) -> bool {
        self.role == "primary" && self.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
    }
}

/// Every node's view of itself, by name.
pub type ClusterNodes = BTreeMap<String, NodeRecord>;

/// A cluster topology record's value; `since_ns`: when the previous sample began.
pub fn cluster_value(nodes: &ClusterNodes, changes: &[String], since_ns: u64) -> Value {
    serde_json::json!({"cluster": nodes, "changes": changes, "since_ns": since_ns})
}

/// When the changes of a cluster record may have happened at the earliest (its `since_ns`),
/// or `None` when it does not say.
pub fn cluster_since(value: &Value) -> Option<u64> {
    value.get("since_ns").and_then(Value::as_u64)
}

/// The nodes of a cluster topology record, if `value` is one.
pub fn cluster_nodes(value: &Value) -> Option<ClusterNodes> {
    serde_json::from_value(value.get("cluster")?.clone()).ok()
}

/// The changes a record lists, in words.
pub fn cluster_changes(value: &Value) -> Vec<&str> {
    value
        .get("changes")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// What changed from `before` to `after`, in words: slots claimed by a new node, roles lost
/// or gained, nodes that stopped or started serving.
pub fn describe_changes(before: &ClusterNodes, after: &ClusterNodes) -> Vec<String> {
    let mut changes = Vec::new();
    for (node, now) in after {
        let was = before.get(node);
        if now.role == "primary" && !now.slots.is_empty() {
            let new: Vec<(u16, u16)> = match was {
                Some(w) if w.role == "primary" => difference(&now.slots, &w.slots),
                _ => now.slots.clone(),
            };
            if !new.is_empty() {
                let from = previous_owners(before, node, &new);
                changes.push(format!(
                    "{node} claims slots {} (epoch {}){}",
                    ranges_words(&new),
                    now.epoch.unwrap_or(0),
                    match from.is_empty() {
                        true => String::new(),
                        false => format!(", which {} claimed", from.join(" and ")),
                    }
                ));
            }
        }
        match (was.map(|w| (&w.role, &w.of)), (&now.role, &now.of)) {
            (Some((r0, _)), (r1, Some(of))) if r0 != r1 => {
                changes.push(format!("{node} is a replica of {of} now"))
            }
            (Some((_, Some(o0))), (_, Some(o1))) if o0 != o1 => {
                changes.push(format!("{node} replicates {o1} now"))
            }
            _ => {}
        }
        if let Some(w) = was {
            if w.serving != now.serving {
                let state = if now.serving { "ok" } else { "fail" };
                changes.push(format!("{node}'s cluster_state is {state}"));
            }
        }
    }
    changes
}

/// Who claimed any of `slots` in `before`, other than `node`.
fn previous_owners(before: &ClusterNodes, node: &str, slots: &[(u16, u16)]) -> Vec<String> {
    before
        .iter()
        .filter(|(n, r)| {
            n.as_str() != node
                && r.role == "primary"
                && slots
                    .iter()
                    .any(|&(a, b)| r.slots.iter().any(|&(c, d)| a <= d && c <= b))
        })
        .map(|(n, _)| n.clone())
        .collect()
}

/// The slots of `a` not in `b`, as ranges.
fn difference(a: &[(u16, u16)], b: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let inside = |s: u16| b.iter().any(|&(x, y)| (x..=y).contains(&s));
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &(x, y) in a {
        for s in x..=y {
            if inside(s) {
                continue;
            }
            match out.last_mut() {
                Some((_, end)) if *end + 1 == s => *end = s,
                _ => out.push((s, s)),
            }
        }
    }
    out
}

/// `0-5460, 7000`.
pub fn ranges_words(ranges: &[(u16, u16)]) -> String {
    let words: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| match a == b {
            true => a.to_string(),
            false => format!("{a}-{b}"),
        })
        .collect();
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary(shard: usize, slots: &[(u16, u16)], epoch: u64) -> NodeRecord {
        NodeRecord {
            shard,
            role: "primary".into(),
            slots: slots.to_vec(),
            epoch: Some(epoch),
            of: None,
            serving: true,
        }
    }

    fn replica(shard: usize, of: &str) -> NodeRecord {
        NodeRecord {
            shard,
            role: "replica".into(),
            slots: Vec::new(),
            epoch: None,
            of: Some(of.into()),
            serving: true,
        }
    }

    #[test]
    fn round_trips_and_describes_a_failover() {
        let before: ClusterNodes = [
            ("n1".to_string(), primary(1, &[(0, 8191)], 1)),
            ("n2".to_string(), replica(1, "n1")),
        ]
        .into();
        let mut after = before.clone();
        after.insert("n2".into(), primary(1, &[(0, 8191)], 7));
        let changes = describe_changes(&before, &after);
        assert_eq!(
            changes,
            vec!["n2 claims slots 0-8191 (epoch 7), which n1 claimed"]
        );
        let value = cluster_value(&after, &changes, 5);
        assert_eq!(cluster_since(&value), Some(5));
        assert_eq!(cluster_nodes(&value).unwrap(), after);
        assert_eq!(cluster_changes(&value).len(), 1);
        assert!(after["n1"].claims(5) && after["n2"].claims(5));
        assert!(cluster_nodes(&serde_json::json!({"master": "n1"})).is_none());
    }

    #[test]
    fn describes_moved_slots_and_lost_service() {
        let before: ClusterNodes = [
            ("n1".to_string(), primary(1, &[(0, 99)], 1)),
            ("n3".to_string(), primary(2, &[(100, 199)], 2)),
        ]
        .into();
        let mut after = before.clone();
        after.insert("n1".into(), primary(1, &[(0, 9)], 1));
        let mut n3 = primary(2, &[(10, 199)], 3);
        n3.serving = false;
        after.insert("n3".into(), n3);
        let changes = describe_changes(&before, &after);
        assert_eq!(
            changes,
            vec![
                "n3 claims slots 10-99 (epoch 3), which n1 claimed",
                "n3's cluster_state is fail"
            ]
        );
    }
}
