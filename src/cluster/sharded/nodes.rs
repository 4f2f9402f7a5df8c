//! `CLUSTER NODES` and `CLUSTER INFO`, parsed. Pure: the text in, the lines out.
//!
//! A `CLUSTER NODES` line is
//! `<id> <ip:port@bus-port[,hostname]> <flags> <primary-id|-> <ping-sent> <pong-recv>
//! <config-epoch> <link-state> <slot>...`, where a slot is `n`, `a-b`, or an open slot:
//! `[n->-<id>]` (migrating to `id`) or `[n-<-<id>]` (importing from `id`). The same format
//! since Redis 3; Redis 7 added the optional `,hostname` after the address.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One node as some node's `CLUSTER NODES` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLine {
    pub id: String,
    /// The client address it announces (`None` while unknown: `:0`).
    pub addr: Option<SocketAddr>,
    pub bus_port: Option<u16>,
    /// The line describes the node that answered.
    pub myself: bool,
    pub primary: bool,
    pub replica: bool,
    /// Flagged failing by this node alone (`fail?`).
    pub pfail: bool,
    /// Flagged failed by a majority of primaries (`fail`).
    pub fail: bool,
    /// Still being introduced (`handshake`): not yet a member.
    pub handshake: bool,
    /// For a replica, its primary's id.
    pub primary_id: Option<String>,
    pub config_epoch: u64,
    /// The bus link to it is up (`connected`).
    pub connected: bool,
    /// Slot ranges it serves, inclusive.
    pub slots: Vec<(u16, u16)>,
    /// Slots this node is migrating to another (slot, target id); only on the primary's own
    /// line, as its owner sees it.
    pub migrating: Vec<(u16, String)>,
    /// Slots this node is importing from another (slot, source id).
    pub importing: Vec<(u16, String)>,
}

impl NodeLine {
    /// Whether `slot` is one of the node's slots.
    pub fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
    }

    /// The number of slots it serves.
    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|&(a, b)| (b - a) as usize + 1).sum()
    }
}

/// Parses a whole `CLUSTER NODES` reply; a line that cannot be read is an error naming it.
pub fn parse_nodes(text: &str) -> Result<Vec<NodeLine>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| parse_line(l).ok_or_else(|| format!("cannot read CLUSTER NODES line {l:?}")))
        .collect()
}

fn parse_line(line: &str) -> Option<NodeLine> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 {
        return None;
    }
    let (addr, bus_port) = parse_address(fields[1])?;
    let flags: Vec<&str> = fields[2].split(',').collect();
    let has = |f: &str| flags.contains(&f);
    let mut node = NodeLine {
        id: fields[0].to_string(),
        addr,
        bus_port,
        myself: has("myself"),
        primary: has("master"),
        replica: has("slave"),
        pfail: has("fail?"),
        fail: has("fail"),
        handshake: has("handshake"),
        primary_id: (fields[3] != "-").then(|| fields[3].to_string()),
        config_epoch: fields[6].parse().ok()?,
        connected: fields[7] == "connected",
        slots: Vec::new(),
        migrating: Vec::new(),
        importing: Vec::new(),
    };
    for slot in &fields[8..] {
        parse_slot(slot, &mut node)?;
    }
    Some(node)
}

/// `127.0.0.1:7000@17000` or `127.0.0.1:7000@17000,host`; `:0@0` for unknown.
fn parse_address(text: &str) -> Option<(Option<SocketAddr>, Option<u16>)> {
    let text = text.split(',').next()?;
    let (client, bus) = text.split_once('@').unwrap_or((text, ""));
    let bus = bus.parse().ok().filter(|p| *p != 0);
    Some((client.parse().ok(), bus))
}

fn parse_slot(text: &str, node: &mut NodeLine) -> Option<()> {
    if let Some(open) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        if let Some((slot, target)) = open.split_once("->-") {
            node.migrating
                .push((slot.parse().ok()?, target.to_string()));
        } else if let Some((slot, source)) = open.split_once("-<-") {
            node.importing
                .push((slot.parse().ok()?, source.to_string()));
        } else {
            return None;
        }
        return Some(());
    }
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let s = text.parse().ok()?;
            (s, s)
        }
    };
    node.slots.push((a, b));
    Some(())
}

/// The parts of `CLUSTER INFO` redline reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `cluster_state:ok`: this node serves queries (it sees every slot covered and, for a
    /// primary, reaches a majority of primaries).
    pub state_ok: bool,
    pub slots_assigned: u32,
    pub slots_ok: u32,
    pub known_nodes: u32,
    pub current_epoch: u64,
}

/// Parses `CLUSTER INFO`.
pub fn parse_info(text: &str) -> ClusterInfo {
    let fields: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.trim().split_once(':'))
        .collect();
    let number = |k: &str| fields.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    ClusterInfo {
        state_ok: fields.get("cluster_state") == Some(&"ok"),
        slots_assigned: number("cluster_slots_assigned") as u32,
        slots_ok: number("cluster_slots_ok") as u32,
        known_nodes: number("cluster_known_nodes") as u32,
        current_epoch: number("cluster_current_epoch"),
    }
}

/// Slot ranges from a set of slots: `[0, 1, 2, 7]` gives `[(0, 2), (7, 7)]`.
pub fn ranges(slots: impl IntoIterator<Item = u16>) -> Vec<(u16, u16)> {
    let mut sorted: Vec<u16> = slots.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for s in sorted {
        match out.last_mut() {
            Some((_, b)) if *b + 1 == s => *b = s,
            _ => out.push((s, s)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [93->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [77-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 slave,fail? 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 disconnected
a1b2 :0@0 master,fail,noaddr - 1 1 0 disconnected
";

    #[test]
    fn reads_every_kind_of_line() {
        let nodes = parse_nodes(NODES).unwrap();
        assert_eq!(nodes.len(), 5);
        let me = nodes.iter().find(|n| n.myself).unwrap();
        assert!(me.primary && !me.replica);
        assert_eq!(me.slots, vec![(0, 5460)]);
        assert_eq!(me.migrating[0].0, 93);
        assert_eq!(me.importing[0].0, 77);
        assert!(me.serves(5460) && !me.serves(5461));
        assert_eq!(me.slot_count(), 5461);
        let replica = &nodes[0];
        assert_eq!(replica.addr, Some("127.0.0.1:30004".parse().unwrap()));
        assert_eq!(replica.bus_port, Some(31004));
        assert_eq!(replica.primary_id.as_deref(), Some(me.id.as_str()));
        assert!(nodes[3].pfail && !nodes[3].fail && !nodes[3].connected);
        assert!(nodes[4].fail && nodes[4].addr.is_none());
        assert!(parse_nodes("garbage line").is_err());
    }

    #[test]
    fn reads_cluster_info_and_ranges() {
        let info = parse_info(
            "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n\
             cluster_known_nodes:6\r\ncluster_current_epoch:7\r\n",
        );
        assert!(info.state_ok);
        assert_eq!(info.slots_ok, 16384);
        assert_eq!(info.current_epoch, 7);
        assert!(!parse_info("cluster_state:fail\r\n").state_ok);
        assert_eq!(ranges([7, 0, 2, 1, 2]), vec![(0, 2), (7, 7)]);
    }
}
