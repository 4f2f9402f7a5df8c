//! What the netns backend names and numbers: the run tag every name carries, the private /24
//! the run owns, and the address plan inside it.
//!
//! Every namespace, veth and bridge is named `rl-<6 hex digits>-<member>` (at most 15 bytes, the
//! kernel's limit for interface names), and every nftables table `redline_<6 hex digits>`, so
//! cleanup can recognise exactly what redline created and touch nothing else.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The prefix of every namespace, veth and bridge name redline creates.
pub const NAME_PREFIX: &str = "rl-";
/// The prefix of every nftables table redline creates.
pub const TABLE_PREFIX: &str = "redline_";
/// Members per kind the address plan has room for.
pub const MAX_NODES: usize = 60;
pub const MAX_SENTINELS: usize = 40;

/// A run's tag, `rl-` and six lowercase hex digits, e.g. `rl-3fa9c1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag(String);

impl Tag {
    /// A fresh tag, distinct across the processes and runs of this machine with high
    /// probability (pid, clock and a counter, mixed).
    pub fn generate() -> Tag {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let seed = nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9);
        Tag(format!("{NAME_PREFIX}{:06x}", mix(seed) & 0xff_ffff))
    }

    /// Parses a tag; `None` for anything that is not exactly `rl-` + six hex digits.
    pub fn parse(text: &str) -> Option<Tag> {
        let hex = text.strip_prefix(NAME_PREFIX)?;
        let ok = hex.len() == 6
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Tag(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The six hex digits.
    pub fn hex(&self) -> &str {
        &self.0[NAME_PREFIX.len()..]
    }

    /// The namespace of a member, also the name of its veth's root-namespace end.
    pub fn namespace(&self, member: &str) -> String {
        format!("{}-{member}", self.0)
    }

    /// The bridge joining the run's namespaces.
    pub fn bridge(&self) -> String {
        format!("{}-br", self.0)
    }

    /// The nftables table (family `inet`) holding the run's rules in each namespace.
    pub fn table(&self) -> String {
        format!("{TABLE_PREFIX}{}", self.hex())
    }

    /// A number derived from the tag, to spread runs over subnets.
    pub fn spread(&self) -> u8 {
        u32::from_str_radix(self.hex(), 16).map_or(0, |n| (n & 0xff) as u8)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `name` (a namespace, link or bridge) is one redline creates: `rl-` + six hex digits
/// + `-` + `br` or a member name.
pub fn is_redline_name(name: &str) -> bool {
    let Some((tag, member)) = name.get(..9).zip(name.get(9..)) else {
        return false;
    };
    Tag::parse(tag).is_some()
        && member
            .strip_prefix('-')
            .is_some_and(|m| m == "br" || is_member_name(m))
}

/// `n<k>` or `s<k>`.
fn is_member_name(m: &str) -> bool {
    let digits = m.strip_prefix('n').or_else(|| m.strip_prefix('s'));
    digits.is_some_and(|d| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `table` is a table redline creates: `redline_` + six hex digits.
pub fn is_redline_table(table: &str) -> bool {
    table
        .strip_prefix(TABLE_PREFIX)
        .is_some_and(|hex| Tag::parse(&format!("{NAME_PREFIX}{hex}")).is_some())
}

/// A private IPv4 /24 the run owns, written `a.b.c.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub octets: [u8; 3],
}

impl Subnet {
    /// The default subnets: `10.87.<n>.0/24`.
    pub fn default_for(n: u8) -> Subnet {
        Subnet {
            octets: [10, 87, n],
        }
    }

    /// Host `h` of the subnet.
    pub fn host(&self, h: u8) -> Ipv4Addr {
        let [a, b, c] = self.octets;
        Ipv4Addr::new(a, b, c, h)
    }

    /// `a.b.c.` — the text every address of the subnet starts with.
    pub fn text_prefix(&self) -> String {
        let [a, b, c] = self.octets;
        format!("{a}.{b}.{c}.")
    }

    /// The root namespace's address on the bridge: where the harness's clients come from.
    pub fn bridge_addr(&self) -> Ipv4Addr {
        self.host(1)
    }

    /// A member's address plan: (data, admin). Data is what replication, Sentinels and clients
    /// use (and what partitions cut); admin is a second address on the same interface that only
    /// the harness uses, so its INFO, REPLICAOF and final reads work during partitions, as the
    /// local backend's admin port bypasses the proxies.
    pub fn member_addrs(&self, sentinel: bool, index: usize) -> Result<(Ipv4Addr, Ipv4Addr)> {
        let (max, data, admin) = if sentinel {
            (MAX_SENTINELS, 80, 200)
        } else {
            (MAX_NODES, 10, 130)
        };
        if index == 0 || index > max {
            bail!(
                "the netns address plan has room for {MAX_NODES} nodes and {MAX_SENTINELS} Sentinels"
            );
        }
        let i = index as u8;
        Ok((self.host(data + i), self.host(admin + i)))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}0/24", self.text_prefix())
    }
}

impl FromStr for Subnet {
    type Err = anyhow::Error;

    /// Accepts `a.b.c.0/24` (or `a.b.c.0`) inside 10/8, 172.16/12 or 192.168/16.
    fn from_str(text: &str) -> Result<Subnet> {
        let addr = text.strip_suffix("/24").unwrap_or(text);
        let ip: Ipv4Addr = addr
            .parse()
            .with_context(|| format!("{text:?} is not a /24 such as 10.87.5.0/24"))?;
        let [a, b, c, d] = ip.octets();
        if d != 0 || (text.contains('/') && !text.ends_with("/24")) {
            bail!("{text:?}: the netns backend needs a whole /24 such as 10.87.5.0/24");
        }
        if !ip.is_private() {
            bail!("{text:?} is not a private subnet (10/8, 172.16/12, 192.168/16)");
        }
        Ok(Subnet { octets: [a, b, c] })
    }
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_names_are_recognised_exactly() {
        let tag = Tag::generate();
        assert!(Tag::parse(tag.as_str()).is_some(), "{tag}");
        assert_ne!(Tag::generate(), Tag::generate());
        let tag = Tag::parse("rl-00ab12").unwrap();
        assert_eq!(tag.namespace("s10"), "rl-00ab12-s10");
        assert!(tag.namespace("s10").len() <= 15);
        assert_eq!(tag.table(), "redline_00ab12");
        assert!(is_redline_name("rl-00ab12-n1"));
        assert!(is_redline_name("rl-00ab12-br"));
        assert!(is_redline_table("redline_00ab12"));
        for other in [
            "rl-00ab12",
            "rl-00AB12-n1",
            "rl-00ab1-n1",
            "rl-00ab12-eth0",
            "docker0",
        ] {
            assert!(!is_redline_name(other), "{other}");
        }
        assert!(!is_redline_table("redline_x") && !is_redline_table("filter"));
        assert!(Tag::parse("rl-zzzzzz").is_none());
    }

    #[test]
    fn subnets_parse_only_private_24s() {
        let s: Subnet = "10.87.5.0/24".parse().unwrap();
        assert_eq!(s.to_string(), "10.87.5.0/24");
        assert_eq!(s.bridge_addr(), Ipv4Addr::new(10, 87, 5, 1));
        assert_eq!(
            "192.168.9.0".parse::<Subnet>().unwrap().octets,
            [192, 168, 9]
        );
        for bad in ["8.8.8.0/24", "10.87.5.0/16", "10.87.5.7/24", "nonsense"] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_address_plan_never_overlaps() {
        let s = Subnet::default_for(3);
        let mut seen = std::collections::HashSet::new();
        seen.insert(s.bridge_addr());
        for i in 1..=MAX_NODES {
            let (d, a) = s.member_addrs(false, i).unwrap();
            assert!(seen.insert(d) && seen.insert(a));
        }
        for i in 1..=MAX_SENTINELS {
            let (d, a) = s.member_addrs(true, i).unwrap();
            assert!(seen.insert(d) && seen.insert(a));
        }
        assert!(s.member_addrs(false, MAX_NODES + 1).is_err());
        assert!(seen
            .iter()
            .all(|ip| ip.octets()[3] != 0 && ip.octets()[3] != 255));
    }
}
