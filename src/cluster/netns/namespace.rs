//! The lifecycle of a run's network: a bridge in the root namespace, one namespace per member
//! joined to it by a veth pair, and the record of it all in the run folder (`netns.json`).
//!
//! [`Network::create`] writes the record before it creates anything, so a run killed halfway
//! through creation can still be cleaned up; [`Network::teardown`] (also run on drop) removes
//! every namespace, veth, table and the bridge, and then the record.

use super::command::{already_gone, ip, nft_in};
use super::names::{Subnet, Tag};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The record of a run's network, in the run folder.
pub const NETNS_FILE: &str = "netns.json";

/// Subnet choice and bridge creation happen under this lock, so two clusters of one process
/// never pick the same subnet.
static ALLOCATION: Mutex<()> = Mutex::new(());

/// What a run created, as written to `netns.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetnsRecord {
    /// The harness process (cleanup leaves a live harness's network alone).
    pub harness: u32,
    pub tag: Tag,
    pub subnet: Subnet,
    pub bridge: String,
    /// Namespaces, each also the name of its veth's root-namespace end.
    pub namespaces: Vec<String>,
}

/// One member's place in the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// `n1`, `s1`, ...
    pub name: String,
    /// The namespace, also the name of the veth's root-namespace end.
    pub namespace: String,
    /// The address replication, Sentinels and clients use (partitions cut it).
    pub data: Ipv4Addr,
    /// The harness's own address for this member (never cut).
    pub admin: Ipv4Addr,
}

/// A run's network. Dropping it removes everything it created.
#[derive(Debug)]
pub struct Network {
    pub tag: Tag,
    pub subnet: Subnet,
    pub hosts: Vec<Host>,
    record: PathBuf,
    removed: bool,
}

impl Network {
    /// Creates the bridge (with the root namespace's address) and one namespace per member
    /// (`members`: (name, is_sentinel, index)). `subnet`: the /24 to use, or `None` to pick a free
    /// `10.87.<n>.0/24`.
    pub fn create(
        tag: Tag,
        subnet: Option<Subnet>,
        members: &[(String, bool, usize)],
        run_dir: &Path,
    ) -> Result<Network> {
        let _guard = ALLOCATION.lock().unwrap_or_else(|e| e.into_inner());
        let subnet = match subnet {
            Some(s) => {
                if let Some(user) = subnet_user(&s)? {
                    bail!("subnet {s} is already in use on this host ({user}); choose another private /24");
                }
                s
            }
            None => pick_subnet(&tag)?,
        };
        let hosts = members
            .iter()
            .map(|(name, sentinel, index)| {
                let (data, admin) = subnet.member_addrs(*sentinel, *index)?;
                Ok(Host {
                    name: name.clone(),
                    namespace: tag.namespace(name),
                    data,
                    admin,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let record = NetnsRecord {
            harness: std::process::id(),
            tag: tag.clone(),
            subnet,
            bridge: tag.bridge(),
            namespaces: hosts.iter().map(|h| h.namespace.clone()).collect(),
        };
        let path = run_dir.join(NETNS_FILE);
        std::fs::write(&path, serde_json::to_vec_pretty(&record)?)
            .with_context(|| format!("writing {}", path.display()))?;
        // From here on, drop removes whatever exists, even if creation stops halfway.
        let network = Network {
            tag,
            subnet,
            hosts,
            record: path,
            removed: false,
        };
        network.create_bridge()?;
        for host in &network.hosts {
            network
                .create_host(host)
                .with_context(|| format!("creating the namespace of {}", host.name))?;
        }
        Ok(network)
    }

    fn create_bridge(&self) -> Result<()> {
        let bridge = self.tag.bridge();
        let addr = format!("{}/24", self.subnet.bridge_addr());
        ip(&["link", "add", &bridge, "type", "bridge"])
            .with_context(|| format!("creating bridge {bridge} (needs root)"))?;
        ip(&["addr", "add", &addr, "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        Ok(())
    }

    fn create_host(&self, host: &Host) -> Result<()> {
        let ns = host.namespace.as_str();
        ip(&["netns", "add", ns])?;
        // The namespace end is created inside the namespace as eth0; the root end keeps the
        // namespace's name, so every link redline makes carries the run tag.
        ip(&[
            "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ])?;
        ip(&["link", "set", ns, "master", &self.tag.bridge(), "up"])?;
        // The data address first: it is the primary one, the source of the member's own
        // connections, which is what the firewall rules match.
        for addr in [host.data, host.admin] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
        }
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The root namespace's address on the bridge (the `clients` party).
    pub fn bridge_addr(&self) -> Ipv4Addr {
        self.subnet.bridge_addr()
    }

    /// Removes the run's tables, veths, namespaces and bridge, then the record. Processes must
    /// be stopped first (a namespace lives on while a process is inside it); any process still
    /// inside is killed. Idempotent; returns what could not be removed.
    pub fn teardown(&mut self) -> Vec<String> {
        if self.removed {
            return Vec::new();
        }
        let mut failures = Vec::new();
        for host in &self.hosts {
            failures.extend(remove_namespace(&host.namespace, Some(&self.tag.table())).err());
        }
        failures.extend(remove_link(&self.tag.bridge()).err());
        if failures.is_empty() {
            let _ = std::fs::remove_file(&self.record);
        }
        self.removed = true;
        failures
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for failure in self.teardown() {
            tracing::warn!("removing the netns network: {failure}");
        }
    }
}

/// Kills whatever still runs inside `namespace`, deletes redline's `table` there (if given), then
/// the veth and the namespace. Missing pieces are not errors.
pub fn remove_namespace(namespace: &str, table: Option<&str>) -> std::result::Result<(), String> {
    let exists = ip(&["netns", "list"])
        .map(|list| {
            list.lines()
                .any(|l| l.split_whitespace().next() == Some(namespace))
        })
        .unwrap_or(false);
    if exists {
        kill_inside(namespace);
        if let Some(table) = table {
            if let Err(e) = nft_in(namespace, &["delete", "table", "inet", table]) {
                if !already_gone(&e) {
                    tracing::warn!("deleting table {table} in {namespace}: {e:#}");
                }
            }
        }
    }
    // Deleting the root end removes the pair at once; namespace destruction is asynchronous.
    remove_link(namespace)?;
    if exists {
        if let Err(e) = ip(&["netns", "del", namespace]) {
            if !already_gone(&e) {
                return Err(format!("deleting namespace {namespace}: {e:#}"));
            }
        }
    }
    Ok(())
}

/// Deletes a link (veth end or bridge) if it exists.
pub fn remove_link(name: &str) -> std::result::Result<(), String> {
    match ip(&["link", "del", name]) {
        Err(e) if !already_gone(&e) => Err(format!("deleting link {name}: {e:#}")),
        _ => Ok(()),
    }
}

/// SIGKILLs every process in `namespace` (only processes inside redline's own namespaces are
/// ever signalled this way).
pub fn kill_inside(namespace: &str) -> Vec<u32> {
    let pids: Vec<u32> = ip(&["netns", "pids", namespace])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for pid in &pids {
        // SAFETY: plain signal delivery to a process living in a namespace this run created.
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGKILL);
        }
    }
    pids
}

/// Picks a `10.87.<n>.0/24` no interface or route of this host uses, starting from the tag.
fn pick_subnet(tag: &Tag) -> Result<Subnet> {
    for step in 0..=255u8 {
        let candidate = Subnet::default_for(tag.spread().wrapping_add(step));
        if subnet_user(&candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    bail!("every 10.87.<n>.0/24 is in use on this host; pass a free private /24 explicitly")
}

/// The address or route line that already uses `subnet`, if any.
fn subnet_user(subnet: &Subnet) -> Result<Option<String>> {
    let addrs =
        ip(&["-4", "-o", "addr", "show"]).context("listing addresses (is iproute2 installed?)")?;
    let routes = ip(&["-4", "route", "show", "table", "all"])?;
    Ok(addrs
        .lines()
        .chain(routes.lines())
        .find(|l| l.split_whitespace().any(|w| overlaps(w, subnet)))
        .map(|l| l.trim().to_string()))
}

/// Whether `word` is an IPv4 address or prefix (`a.b.c.d` or `a.b.c.d/len`) that overlaps
/// `subnet`.
fn overlaps(word: &str, subnet: &Subnet) -> bool {
    let (addr, len) = word.split_once('/').unwrap_or((word, "32"));
    let (Ok(addr), Ok(len)) = (addr.parse::<Ipv4Addr>(), len.parse::<u32>()) else {
        return false;
    };
    // Two prefixes overlap when they agree on the shorter one's bits.
    let shorter = len.min(24);
    if shorter == 0 {
        return false; // a default route is not a user of the subnet
    }
    let mask = u32::MAX << (32 - shorter);
    (u32::from(addr) & mask) == (u32::from(subnet.host(0)) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_compares_prefixes_not_text() {
        let s = Subnet::default_for(5);
        assert!(overlaps("10.87.5.1/24", &s));
        assert!(overlaps("10.87.0.0/16", &s));
        assert!(overlaps("10.87.5.77", &s));
        assert!(!overlaps("10.87.50.0/24", &s));
        assert!(!overlaps("0.0.0.0/0", &s));
        assert!(!overlaps("dev", &s));
    }
}
