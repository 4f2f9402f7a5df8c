//! `--nodes n1=host[:port],s1=host,...`: which member of the cluster runs on which host, and
//! the SSH port to reach it. Pure parsing and validation; addresses are resolved when the run
//! starts.
//!
//! Members are data nodes `n1..nN` (n1 starts as the master) and Sentinels `s1..sM`, numbered
//! without gaps. Every member needs a host of its own: partitions are firewall rules matched by
//! address, and two members behind one address could not be cut apart.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The default SSH port.
pub const SSH_PORT: u16 = 22;

/// One member's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSpec {
    /// `n1`, `s1`, ...
    pub name: String,
    /// The host name or IPv4 address, as given (SSH connects to it; the servers bind to what it
    /// resolves to).
    pub host: String,
    /// The SSH port.
    pub port: u16,
}

impl HostSpec {
    /// Whether this member is a Sentinel.
    pub fn is_sentinel(&self) -> bool {
        self.name.starts_with('s')
    }
}

/// The parsed `--nodes` value: data nodes in name order, then Sentinels in name order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLayout {
    pub nodes: Vec<HostSpec>,
    pub sentinels: Vec<HostSpec>,
}

impl HostLayout {
    /// Parses `n1=host[:port],...`; see the module doc for the rules.
    pub fn parse(text: &str) -> Result<HostLayout> {
        let mut nodes = Vec::new();
        let mut sentinels = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let spec = parse_entry(entry)?;
            if spec.is_sentinel() {
                sentinels.push(spec);
            } else {
                nodes.push(spec);
            }
        }
        if nodes.is_empty() {
            bail!("--nodes names no data node; give at least n1=HOST");
        }
        for (kind, list) in [("n", &mut nodes), ("s", &mut sentinels)] {
            list.sort_by_key(|s| number(&s.name));
            for (i, spec) in list.iter().enumerate() {
                let want = format!("{kind}{}", i + 1);
                if spec.name != want {
                    bail!(
                        "--nodes: expected {want} next, found {:?}; number members from 1 without gaps or repeats",
                        spec.name
                    );
                }
            }
        }
        let mut seen = BTreeSet::new();
        for spec in nodes.iter().chain(&sentinels) {
            if !seen.insert(spec.host.to_ascii_lowercase()) {
                bail!(
                    "--nodes: host {:?} is given to two members; each member needs a host of its own (partitions are firewall rules by address)",
                    spec.host
                );
            }
        }
        Ok(HostLayout { nodes, sentinels })
    }

    /// Every member, nodes first.
    pub fn members(&self) -> impl Iterator<Item = &HostSpec> {
        self.nodes.iter().chain(&self.sentinels)
    }
}

fn parse_entry(entry: &str) -> Result<HostSpec> {
    let (name, target) = entry
        .split_once('=')
        .with_context(|| format!("--nodes entry {entry:?} is not NAME=HOST[:PORT]"))?;
    let name = name.trim();
    let valid_name = matches!(name.as_bytes().first(), Some(b'n' | b's'))
        && name.len() > 1
        && name[1..].bytes().all(|b| b.is_ascii_digit())
        && !name[1..].starts_with('0');
    if !valid_name {
        bail!("--nodes: member name {name:?} must be n1, n2, ... (data nodes) or s1, s2, ... (Sentinels)");
    }
    let target = target.trim();
    let (host, port) = match target.rsplit_once(':') {
        Some((host, port)) => {
            let port: u16 = port.parse().ok().filter(|p| *p != 0).with_context(|| {
                format!("--nodes: {name}'s SSH port {port:?} is not a port number")
            })?;
            (host, port)
        }
        None => (target, SSH_PORT),
    };
    if host.is_empty()
        || host.starts_with('-')
        || host.contains(char::is_whitespace)
        || host.contains(['[', ']', '@', '/', '\'', '"'])
    {
        bail!("--nodes: {name}'s host {host:?} is not a host name or IPv4 address (give the user with --ssh-user)");
    }
    Ok(HostSpec {
        name: name.to_string(),
        host: host.to_string(),
        port,
    })
}

fn number(name: &str) -> u64 {
    name[1..].parse().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nodes_sentinels_and_ports_in_any_order() {
        let l = HostLayout::parse("n2=10.0.0.2, n1=10.0.0.1:2222,s1=sentinel-a,n3=db3").unwrap();
        let names: Vec<_> = l.members().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["n1", "n2", "n3", "s1"]);
        assert_eq!(l.nodes[0].port, 2222);
        assert_eq!(l.nodes[1].port, SSH_PORT);
        assert_eq!(l.sentinels[0].host, "sentinel-a");
    }

    #[test]
    fn refuses_what_cannot_run_with_a_reason() {
        let cases = [
            ("", "no data node"),
            ("s1=a", "no data node"),
            ("n1=a,n3=b", "expected n2"),
            ("n1=a,n1=b", "expected n2"),
            ("n1=a,n2=a", "each member needs a host of its own"),
            ("x1=a", "must be n1"),
            ("n01=a", "must be n1"),
            ("n1", "NAME=HOST"),
            ("n1=a:0", "not a port number"),
            ("n1=a:ssh", "not a port number"),
            ("n1=root@a", "--ssh-user"),
            ("n1=:22", "not a host name"),
            ("n1=-oProxyCommand=x", "not a host name"),
        ];
        for (text, want) in cases {
            let err = HostLayout::parse(text).expect_err(text);
            assert!(format!("{err:#}").contains(want), "{text}: {err:#}");
        }
    }
}
