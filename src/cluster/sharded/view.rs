//! The cluster as its nodes see it: every node's `CLUSTER INFO` and `CLUSTER NODES`, fetched
//! at once through the harness's own addresses (never cut by a fault), and what the harness
//! reads from them: which node claims which slots, whom each replica follows, which slots a
//! migration left open. The fetch is the only I/O here; the rest is pure, over
//! [`ClusterView`]'s data.

use super::nodes::{parse_info, parse_nodes, ClusterInfo, NodeLine};
use super::ShardedLayout;
use crate::cluster::admin;
use anyhow::{Context, Result};
use futures_util::future::join_all;
use redline_checkers::history::cluster_value::{ClusterNodes, NodeRecord};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// One node's view of the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub node: String,
    pub info: ClusterInfo,
    pub lines: Vec<NodeLine>,
}

impl NodeView {
    /// The node's line about itself.
    pub fn myself(&self) -> Option<&NodeLine> {
        self.lines.iter().find(|l| l.myself)
    }
}

/// A node that says it is a primary and serves slots: what it claims, in its own view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    pub node: String,
    pub slots: Vec<(u16, u16)>,
    pub epoch: u64,
    /// Its `cluster_state` is `ok` (a primary cut off from the majority turns `fail` after the
    /// node timeout, and then refuses queries).
    pub serving: bool,
}

/// A slot a migration left open on some node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSlot {
    pub slot: u16,
    /// The node whose view has it open.
    pub node: String,
    /// Importing (from `peer`) rather than migrating (to `peer`).
    pub importing: bool,
    /// The node on the other end, by name when known, else its id.
    pub peer: String,
}

/// Every node's view, and the names of the ids they use.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    pub views: Vec<NodeView>,
    /// Nodes that did not answer, with why.
    pub unreachable: Vec<(String, String)>,
    /// Node id to name.
    ids: BTreeMap<String, String>,
}

/// `CLUSTER INFO` and `CLUSTER NODES` of the node at `addr`, in one round trip.
pub async fn fetch_one(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(ClusterInfo, Vec<NodeLine>)> {
    let mut pipe = redis::pipe();
    pipe.cmd("CLUSTER").arg("INFO").cmd("CLUSTER").arg("NODES");
    let (info, nodes): (String, String) = admin::pipeline(addr, &pipe, timeout).await?;
    let lines = parse_nodes(&nodes).map_err(anyhow::Error::msg)?;
    Ok((parse_info(&info), lines))
}

impl ClusterView {
    /// Fetches every node's view at once, each bounded by `timeout`; `known` (name to id)
    /// names the ids of nodes that do not answer.
    pub async fn fetch(
        nodes: &[(String, SocketAddr)],
        known: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> ClusterView {
        let fetched = join_all(nodes.iter().map(|(name, addr)| async move {
            let r = fetch_one(*addr, timeout)
                .await
                .with_context(|| format!("{name}'s CLUSTER NODES"));
            (name.clone(), r)
        }))
        .await;
        let mut view = ClusterView::default();
        for (node, result) in fetched {
            match result {
                Ok((info, lines)) => view.views.push(NodeView { node, info, lines }),
                Err(e) => view.unreachable.push((node, format!("{e:#}"))),
            }
        }
        view.ids = known
            .iter()
            .map(|(n, id)| (id.clone(), n.clone()))
            .collect();
        view.learn_ids();
        view
    }

    /// A view of already parsed node views (tests, and callers that fetched themselves).
    pub fn of(views: Vec<NodeView>, known: &BTreeMap<String, String>) -> ClusterView {
        let mut view = ClusterView {
            views,
            ids: known
                .iter()
                .map(|(n, id)| (id.clone(), n.clone()))
                .collect(),
            ..ClusterView::default()
        };
        view.learn_ids();
        view
    }

    fn learn_ids(&mut self) {
        for v in &self.views {
            if let Some(me) = v.myself() {
                self.ids.insert(me.id.clone(), v.node.clone());
            }
        }
    }

    /// The name of the node with cluster id `id`, or the id itself when unknown.
    pub fn name_of(&self, id: &str) -> String {
        self.ids.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    /// Node `node`'s view, if it answered.
    pub fn view(&self, node: &str) -> Option<&NodeView> {
        self.views.iter().find(|v| v.node == node)
    }

    /// What every answering node that calls itself a primary with slots claims.
    pub fn claims(&self) -> Vec<Claim> {
        self.views
            .iter()
            .filter_map(|v| {
                let me = v.myself()?;
                (me.primary && !me.slots.is_empty()).then(|| Claim {
                    node: v.node.clone(),
                    slots: me.slots.clone(),
                    epoch: me.config_epoch,
                    serving: v.info.state_ok,
                })
            })
            .collect()
    }

    /// Whether `node` calls itself a primary.
    pub fn is_primary(&self, node: &str) -> bool {
        self.view(node)
            .and_then(NodeView::myself)
            .is_some_and(|me| me.primary)
    }

    /// The primary `node` replicates, in its own view.
    pub fn following(&self, node: &str) -> Option<String> {
        let me = self.view(node)?.myself()?;
        me.replica
            .then(|| me.primary_id.as_deref().map(|id| self.name_of(id)))
            .flatten()
    }

    /// The nodes that replicate `primary`, in their own views.
    pub fn replicas_of(&self, primary: &str) -> Vec<String> {
        self.views
            .iter()
            .filter(|v| self.following(&v.node).as_deref() == Some(primary))
            .map(|v| v.node.clone())
            .collect()
    }

    /// Among `members`, the node that serves as their primary now: the one claiming slots with
    /// the highest config epoch, else one that calls itself primary.
    pub fn primary_among(&self, members: &[String]) -> Option<String> {
        let claims = self.claims();
        let best = claims
            .iter()
            .filter(|c| members.contains(&c.node))
            .max_by_key(|c| c.epoch)
            .map(|c| c.node.clone());
        best.or_else(|| members.iter().find(|m| self.is_primary(m)).cloned())
    }

    /// Every slot some node has open (migrating or importing).
    pub fn open_slots(&self) -> Vec<OpenSlot> {
        let mut open = Vec::new();
        for v in &self.views {
            let Some(me) = v.myself() else { continue };
            for (slot, peer) in &me.migrating {
                open.push(OpenSlot {
                    slot: *slot,
                    node: v.node.clone(),
                    importing: false,
                    peer: self.name_of(peer),
                });
            }
            for (slot, peer) in &me.importing {
                open.push(OpenSlot {
                    slot: *slot,
                    node: v.node.clone(),
                    importing: true,
                    peer: self.name_of(peer),
                });
            }
        }
        open
    }

    /// Every node's view of itself as a history record's entries: the nodes that answered as
    /// they answered, the others as `last` had them.
    pub fn node_records(&self, layout: &ShardedLayout, last: &ClusterNodes) -> ClusterNodes {
        let mut records = last.clone();
        for v in &self.views {
            let Some(me) = v.myself() else { continue };
            let shard = layout.sharding.shard_of(&v.node).unwrap_or(0);
            let record = NodeRecord {
                shard,
                role: if me.primary { "primary" } else { "replica" }.to_string(),
                slots: if me.primary {
                    me.slots.clone()
                } else {
                    Vec::new()
                },
                epoch: me.primary.then_some(me.config_epoch),
                of: self.following(&v.node),
                serving: v.info.state_ok,
            };
            records.insert(v.node.clone(), record);
        }
        records
    }

    /// The slot map in `node`'s view: each primary with slots (by name) and its ranges.
    pub fn map_of(&self, node: &str) -> BTreeMap<String, Vec<(u16, u16)>> {
        let Some(v) = self.view(node) else {
            return BTreeMap::new();
        };
        v.lines
            .iter()
            .filter(|l| l.primary && !l.slots.is_empty())
            .map(|l| (self.name_of(&l.id), l.slots.clone()))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cluster::sharded::nodes::parse_nodes;

    /// A node view from `CLUSTER NODES` text and whether its state is ok.
    pub(crate) fn node_view(node: &str, ok: bool, nodes: &str) -> NodeView {
        NodeView {
            node: node.to_string(),
            info: ClusterInfo {
                state_ok: ok,
                ..ClusterInfo::default()
            },
            lines: parse_nodes(nodes).unwrap(),
        }
    }

    /// `n1` (id a) primary of 0-8191, `n2` (b) its replica, `n3` (c) primary of 8192-16383;
    /// `myself` marks the line of `me`.
    pub(crate) fn three(me: &str) -> String {
        let mark = |n: &str| if n == me { "myself," } else { "" };
        format!(
            "a 127.0.0.1:7001@17001 {}master - 0 0 1 connected 0-8191\n\
             b 127.0.0.1:7002@17002 {}slave a 0 0 1 connected\n\
             c 127.0.0.1:7003@17003 {}master - 0 0 2 connected 8192-16383\n",
            mark("n1"),
            mark("n2"),
            mark("n3")
        )
    }

    #[test]
    fn reads_claims_roles_and_maps() {
        let views = ["n1", "n2", "n3"]
            .iter()
            .map(|n| node_view(n, true, &three(n)))
            .collect();
        let view = ClusterView::of(views, &BTreeMap::new());
        let claims = view.claims();
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[0].node, "n1");
        assert_eq!(view.following("n2").as_deref(), Some("n1"));
        assert_eq!(view.replicas_of("n1"), vec!["n2"]);
        assert_eq!(
            view.primary_among(&["n1".into(), "n2".into()]).as_deref(),
            Some("n1")
        );
        assert_eq!(view.map_of("n2").len(), 2);
        assert!(view.open_slots().is_empty());
    }
}
