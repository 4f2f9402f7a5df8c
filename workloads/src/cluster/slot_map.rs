//! A client's map of the cluster: which shard serves each slot, and which nodes make up each
//! shard (its primary and its replicas), as `CLUSTER SHARDS` (Redis 7+, Valkey) or, on an
//! older server, `CLUSTER SLOTS` describes them. Nodes are named by the address they announce
//! (the harness's [`Topology`] knows every node's address); a node at an address no node of the
//! run has is left out, and a shard whose primary is unknown is an error.
//!
//! The map is a client's belief, as an application's: `MOVED` corrects it one slot at a time
//! ([`SlotMap::moved`]) until the client asks a node for a whole new map.

use crate::topology::{Endpoint, Topology};
use redis::Value;
use std::net::SocketAddr;

/// The nodes of one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardNodes {
    pub primary: Endpoint,
    pub replicas: Vec<Endpoint>,
}

/// Which shard serves each slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotMap {
    /// `(first, last, shard index)`, sorted by `first`, disjoint.
    ranges: Vec<(u16, u16, usize)>,
    shards: Vec<ShardNodes>,
}

impl SlotMap {
    /// Whether the map knows no slot at all (a client that has not asked yet).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The shard serving `slot`, if the map has one.
    pub fn shard_of(&self, slot: u16) -> Option<&ShardNodes> {
        let i = self.ranges.partition_point(|&(first, _, _)| first <= slot);
        let (_, last, shard) = *self.ranges.get(i.checked_sub(1)?)?;
        (slot <= last).then(|| &self.shards[shard])
    }

    /// Every node the map names (where to ask for a new map).
    pub fn nodes(&self) -> Vec<Endpoint> {
        let mut all: Vec<Endpoint> = self
            .shards
            .iter()
            .flat_map(|s| std::iter::once(&s.primary).chain(&s.replicas))
            .cloned()
            .collect();
        all.dedup();
        all
    }

    /// `MOVED slot node`: `node` serves `slot` now, as a primary. Its replicas are unknown
    /// until the next whole map.
    pub fn moved(&mut self, slot: u16, node: Endpoint) {
        let shard = match self.shards.iter().position(|s| s.primary == node) {
            Some(i) => i,
            None => {
                self.shards.push(ShardNodes {
                    primary: node,
                    replicas: Vec::new(),
                });
                self.shards.len() - 1
            }
        };
        let mut ranges = Vec::with_capacity(self.ranges.len() + 2);
        for &(a, b, s) in &self.ranges {
            if slot < a || slot > b {
                ranges.push((a, b, s));
                continue;
            }
            if a < slot {
                ranges.push((a, slot - 1, s));
            }
            if slot < b {
                ranges.push((slot + 1, b, s));
            }
        }
        ranges.push((slot, slot, shard));
        ranges.sort_unstable();
        self.ranges = ranges;
    }

    /// The map in a `CLUSTER SHARDS` reply.
    pub fn from_shards(reply: &Value, topology: &Topology) -> Result<SlotMap, String> {
        let mut map = SlotMap::default();
        for shard in items(reply).ok_or("CLUSTER SHARDS did not reply with an array")? {
            let fields = pairs(shard);
            let slots: Vec<u16> = field(&fields, "slots")
                .and_then(items)
                .unwrap_or(&[])
                .iter()
                .filter_map(int)
                .map(|n| n as u16)
                .collect();
            if slots.is_empty() {
                continue;
            }
            let mut primary = None;
            let mut replicas = Vec::new();
            for node in field(&fields, "nodes").and_then(items).unwrap_or(&[]) {
                let n = pairs(node);
                let text = |k: &str| field(&n, k).and_then(string);
                let port = field(&n, "port").and_then(int);
                let (Some(ip), Some(port)) = (text("ip").or_else(|| text("endpoint")), port) else {
                    continue;
                };
                let Some(endpoint) = endpoint(topology, &ip, port) else {
                    continue;
                };
                let online = text("health").as_deref() == Some("online");
                match text("role").as_deref() {
                    // A failed primary may still be listed with its old shard; the online one
                    // serves.
                    Some("master" | "primary") if primary.is_none() || online => {
                        primary = Some(endpoint)
                    }
                    Some("replica" | "slave") if online => replicas.push(endpoint),
                    _ => {}
                }
            }
            let primary = primary.ok_or("a shard of CLUSTER SHARDS has no known primary")?;
            map.add(&slots, ShardNodes { primary, replicas });
        }
        Ok(map)
    }

    /// The map in a `CLUSTER SLOTS` reply: `[first, last, [ip, port, id], [replica...]...]`.
    pub fn from_slots(reply: &Value, topology: &Topology) -> Result<SlotMap, String> {
        let mut map = SlotMap::default();
        for range in items(reply).ok_or("CLUSTER SLOTS did not reply with an array")? {
            let parts = items(range).unwrap_or(&[]);
            let (Some(first), Some(last)) =
                (parts.first().and_then(int), parts.get(1).and_then(int))
            else {
                continue;
            };
            let mut nodes = parts[2.min(parts.len())..].iter().filter_map(|n| {
                let n = items(n)?;
                endpoint(topology, &string(n.first()?)?, int(n.get(1)?)?)
            });
            let primary = nodes
                .next()
                .ok_or("a range of CLUSTER SLOTS has no known primary")?;
            let shard = ShardNodes {
                primary,
                replicas: nodes.collect(),
            };
            map.add(&[first as u16, last as u16], shard);
        }
        Ok(map)
    }

    /// Adds a shard serving `bounds` (pairs of first, last).
    fn add(&mut self, bounds: &[u16], shard: ShardNodes) {
        let index = match self.shards.iter().position(|s| s.primary == shard.primary) {
            Some(i) => i,
            None => {
                self.shards.push(shard);
                self.shards.len() - 1
            }
        };
        for pair in bounds.chunks(2).filter(|p| p.len() == 2) {
            self.ranges.push((pair[0], pair[1], index));
        }
        self.ranges.sort_unstable();
    }
}

fn endpoint(topology: &Topology, ip: &str, port: i64) -> Option<Endpoint> {
    let addr: SocketAddr = format!("{ip}:{port}").parse().ok()?;
    Some(Endpoint {
        node: topology.node_at(addr)?,
        addr,
    })
}

fn items(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

/// A flat key/value array (RESP2) or a map (RESP3) as pairs.
fn pairs(v: &Value) -> Vec<(String, &Value)> {
    match v {
        Value::Array(kv) => kv
            .chunks(2)
            .filter(|p| p.len() == 2)
            .filter_map(|p| Some((string(&p[0])?, &p[1])))
            .collect(),
        Value::Map(kv) => kv
            .iter()
            .filter_map(|(k, v)| Some((string(k)?, v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(pairs: &[(String, &'a Value)], name: &str) -> Option<&'a Value> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => string(other)?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn topology() -> Topology {
        let nodes: Vec<(String, SocketAddr)> = (1..=4)
            .map(|i| {
                (
                    format!("n{i}"),
                    format!("127.0.0.1:700{i}").parse().unwrap(),
                )
            })
            .collect();
        Topology::new(&nodes, "n1")
    }

    fn node(port: i64, role: &str) -> Value {
        Value::Array(vec![
            bulk("ip"),
            bulk("127.0.0.1"),
            bulk("port"),
            Value::Int(port),
            bulk("role"),
            bulk(role),
            bulk("health"),
            bulk("online"),
        ])
    }

    fn shard(slots: &[i64], nodes: Vec<Value>) -> Value {
        Value::Array(vec![
            bulk("slots"),
            Value::Array(slots.iter().map(|s| Value::Int(*s)).collect()),
            bulk("nodes"),
            Value::Array(nodes),
        ])
    }

    #[test]
    fn reads_cluster_shards_and_follows_moved() {
        let reply = Value::Array(vec![
            shard(
                &[0, 8191],
                vec![node(7001, "master"), node(7002, "replica")],
            ),
            shard(&[8192, 16383], vec![node(7003, "master")]),
        ]);
        let mut map = SlotMap::from_shards(&reply, &topology()).unwrap();
        assert_eq!(map.shard_of(0).unwrap().primary.node, "n1");
        assert_eq!(map.shard_of(8191).unwrap().replicas[0].node, "n2");
        assert_eq!(map.shard_of(16383).unwrap().primary.node, "n3");
        let n4 = Endpoint {
            node: "n4".into(),
            addr: "127.0.0.1:7004".parse().unwrap(),
        };
        map.moved(100, n4);
        assert_eq!(map.shard_of(100).unwrap().primary.node, "n4");
        assert_eq!(map.shard_of(99).unwrap().primary.node, "n1");
        assert_eq!(map.shard_of(101).unwrap().primary.node, "n1");
        assert_eq!(map.nodes().len(), 4);
    }

    #[test]
    fn reads_cluster_slots() {
        let range = |a: i64, b: i64, ports: &[i64]| {
            let mut v = vec![Value::Int(a), Value::Int(b)];
            for p in ports {
                v.push(Value::Array(vec![
                    bulk("127.0.0.1"),
                    Value::Int(*p),
                    bulk("id"),
                ]));
            }
            Value::Array(v)
        };
        let reply = Value::Array(vec![
            range(0, 99, &[7001, 7002]),
            range(100, 16383, &[7003]),
        ]);
        let map = SlotMap::from_slots(&reply, &topology()).unwrap();
        assert_eq!(map.shard_of(50).unwrap().replicas[0].node, "n2");
        assert_eq!(map.shard_of(100).unwrap().primary.node, "n3");
        assert!(SlotMap::default().shard_of(5).is_none());
    }
}
