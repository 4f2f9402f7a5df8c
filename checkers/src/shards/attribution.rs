//! Which change of a Redis Cluster dropped a lost write. A write acknowledged by node A for a
//! slot is lost when the node that serves the slot at the end never got it; on a cluster that
//! happens when another node took the slot over from A without A's write: a replica promoted in
//! A's shard (a failover: the cluster bus's, or `CLUSTER FAILOVER`) or a primary of another
//! shard (a migration). The change is the first claim of the slot by another node that A's
//! acknowledgement did not precede in the order of config epochs ([`Timeline::taken_from`]);
//! the fault cited is the nemesis's last action before the change was recorded.

use super::timeline::{Claim, Timeline};
use crate::history::{History, Operation, Process};
use crate::lost_writes::faults;
use crate::result::Anomaly;
use serde_json::{json, Value};

/// How far before a change the fault that caused it is looked for (ns).
const CAUSE_LOOKBACK_NS: u64 = 60_000_000_000;

/// The change that took a lost write's slot from the node that acknowledged it.
#[derive(Debug, Clone)]
pub struct Dropped {
    pub claim: Claim,
    /// `failover` (a node of the same shard) or `migration` (another shard's primary).
    pub kind: &'static str,
    /// What the topology record of the change says, in words.
    pub changes: Vec<String>,
    /// The nemesis's last action before the change: index and words.
    pub cause: Option<(u64, String)>,
}

/// The change that took `slot` from `node` after it acknowledged a write at `ack_time`.
pub fn dropped_by(
    history: &History,
    timeline: &Timeline,
    slot: u16,
    node: &str,
    ack_time: u64,
) -> Option<Dropped> {
    let claim = timeline.taken_from(slot, node, ack_time)?;
    let snapshot = timeline.snapshot(claim.start_index)?;
    let shard = |n: &str| snapshot.nodes.get(n).map(|r| r.shard);
    let kind = match shard(&claim.node) == shard(node) {
        true => "failover",
        false => "migration",
    };
    let from = claim.start.saturating_sub(CAUSE_LOOKBACK_NS);
    let cause = faults::between(history, from, claim.start)
        .into_iter()
        .rfind(|o| o.process == Process::Nemesis && o.f.is_fault())
        .map(|o| (o.index, faults::describe(o)));
    Some(Dropped {
        kind,
        changes: snapshot.changes.clone(),
        cause,
        claim,
    })
}

/// On a Redis Cluster, the failover or migration that dropped a lost write (`add`, the
/// acknowledged operation), added to its anomaly; a standalone history's anomaly is unchanged.
pub fn annotate(
    mut anomaly: Anomaly,
    history: &History,
    timeline: &Timeline,
    add: &Operation<'_>,
) -> Anomaly {
    if !timeline.is_cluster() {
        return anomaly;
    }
    let slot = add.invoke.slot.or(add.last().slot);
    let node = crate::final_reads::node_of(add);
    let (Some(slot), Some(node)) = (slot, node) else {
        return anomaly;
    };
    let ack = add.last().time;
    match dropped_by(history, timeline, slot, node, ack) {
        Some(d) => {
            anomaly.explanation =
                format!("{} {}", anomaly.explanation, d.sentence(node, slot, ack));
            if let Some(details) = anomaly.details.as_object_mut() {
                details.insert("dropped_by".into(), d.details());
            }
        }
        None => {
            anomaly.explanation = format!(
                "{} No other node took slot {slot} from {node} after it acknowledged the write, \
                 as far as the topology records show.",
                anomaly.explanation
            );
        }
    }
    anomaly
}

impl Dropped {
    /// One sentence for an explanation.
    pub fn sentence(&self, node: &str, slot: u16, ack_time: u64) -> String {
        let c = &self.claim;
        let when = match c.start <= ack_time {
            true => format!(
                "{} already claimed the slot (epoch {}) since {:.1} ms, before {node} acknowledged \
                 the write: two primaries for one slot",
                c.node,
                c.epoch,
                c.start as f64 / 1e6
            ),
            false => format!(
                "at {:.1} ms {} took the slot over (epoch {})",
                c.start as f64 / 1e6,
                c.node,
                c.epoch
            ),
        };
        let cause = self
            .cause
            .as_ref()
            .map_or(String::new(), |(_, words)| format!(", after {words}"));
        format!(
            "Dropped by a {} of slot {slot}: {when} (topology record op {}{}){cause}.",
            self.kind,
            c.start_index,
            match self.changes.is_empty() {
                true => String::new(),
                false => format!(": {}", self.changes.join("; ")),
            }
        )
    }

    /// The same as details of an anomaly.
    pub fn details(&self) -> Value {
        json!({
            "kind": self.kind,
            "node": self.claim.node,
            "epoch": self.claim.epoch,
            "at_ms": self.claim.start as f64 / 1e6,
            "topology_op": self.claim.start_index,
            "fault_op": self.cause.as_ref().map(|c| c.0),
        })
    }
}
