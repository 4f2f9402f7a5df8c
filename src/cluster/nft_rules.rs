//! Partitions as nftables rules, shared by the backends that cut links with a firewall (one
//! namespace per node, or real hosts over SSH): which DROP rules each member's host needs for a
//! set of cut links, and the `nft -f` script that installs them atomically. Pure: the backends
//! run the scripts where their members live.
//!
//! A cut directed link `(a, b)` means b no longer hears a: a's packets are dropped on b's input
//! (source a) and on a's output (destination b), each rule on a member's own host, so the
//! harness's machine is never touched. `clients` is the harness's address as the members see it;
//! a rule involving it is narrowed ([`ClientsRule`]) so the harness's own channel to the member
//! survives the partition. Drops are silent (no RST): established connections stall until the
//! rule goes, as with the local proxy's black hole.

use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// A node or Sentinel, by name, at the address its peers use.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    /// `n1`, `s1`, ...
    pub name: String,
    /// The address replication, Sentinels and clients use (what partitions cut).
    pub addr: Ipv4Addr,
}

/// How a rule that cuts the `clients` party spares the harness's own channel to a member.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClientsRule {
    /// Only the member's data address is cut; the harness talks to a second (admin) address.
    DataAddressOnly,
    /// Every TCP port but this one (the SSH port the harness drives the host and forwards its
    /// own commands through).
    AllTcpBut(u16),
}

/// The rules of one member's host.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HostRules {
    /// `nft` rule statements for the input chain.
    pub input: Vec<String>,
    /// `nft` rule statements for the output chain.
    pub output: Vec<String>,
}

/// Where a party's packets come from.
#[derive(Clone, Copy)]
enum Peer<'a> {
    Clients,
    Member(&'a Party),
}

/// The rules each member needs for `cuts` (member name → rules); `clients` is the harness's
/// address as the members see it. An unknown party name is an error that lists the known ones.
pub fn plan(
    cuts: &BTreeSet<(String, String)>,
    parties: &[Party],
    clients: Ipv4Addr,
    clients_rule: ClientsRule,
) -> Result<BTreeMap<String, HostRules>> {
    let find = |name: &str| -> Result<Peer<'_>> {
        if name == "clients" {
            return Ok(Peer::Clients);
        }
        parties
            .iter()
            .find(|p| p.name == name)
            .map(Peer::Member)
            .with_context(|| {
                let names: Vec<&str> = parties.iter().map(|p| p.name.as_str()).collect();
                format!("no node or Sentinel named {name:?} (have: {names:?}, clients)")
            })
    };
    let mut plan: BTreeMap<String, HostRules> = BTreeMap::new();
    for (from, to) in cuts {
        let (a, b) = (find(from)?, find(to)?);
        let comment = format!("comment \"cut {from} -> {to}\"");
        if let Peer::Member(b) = b {
            let rule = match a {
                Peer::Member(a) => format!("ip saddr {} drop {comment}", a.addr),
                Peer::Clients => match clients_rule {
                    ClientsRule::DataAddressOnly => {
                        format!("ip saddr {clients} ip daddr {} drop {comment}", b.addr)
                    }
                    ClientsRule::AllTcpBut(port) => {
                        format!("ip saddr {clients} tcp dport != {port} drop {comment}")
                    }
                },
            };
            plan.entry(b.name.clone()).or_default().input.push(rule);
        }
        if let Peer::Member(a) = a {
            let rule = match b {
                Peer::Member(b) => format!("ip daddr {} drop {comment}", b.addr),
                Peer::Clients => match clients_rule {
                    ClientsRule::DataAddressOnly => {
                        format!("ip saddr {} ip daddr {clients} drop {comment}", a.addr)
                    }
                    ClientsRule::AllTcpBut(port) => {
                        format!("ip daddr {clients} tcp sport != {port} drop {comment}")
                    }
                },
            };
            plan.entry(a.name.clone()).or_default().output.push(rule);
        }
    }
    Ok(plan)
}

/// The `nft -f` script that replaces `table` with `rules` in one transaction (declaring the
/// table first makes the delete valid when it does not exist yet).
pub fn render(table: &str, rules: &HostRules) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "table inet {table}\ndelete table inet {table}");
    let _ = writeln!(s, "table inet {table} {{");
    for (chain, statements) in [("input", &rules.input), ("output", &rules.output)] {
        let _ = writeln!(s, "  chain {chain} {{");
        let _ = writeln!(s, "    type filter hook {chain} priority 0; policy accept;");
        for r in statements {
            let _ = writeln!(s, "    {r}");
        }
        let _ = writeln!(s, "  }}");
    }
    let _ = writeln!(s, "}}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties() -> Vec<Party> {
        (1..=3)
            .map(|i| Party {
                name: format!("n{i}"),
                addr: Ipv4Addr::new(10, 87, 0, 10 + i),
            })
            .collect()
    }

    fn cuts(links: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        links
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const BRIDGE: Ipv4Addr = Ipv4Addr::new(10, 87, 0, 1);

    #[test]
    fn a_cut_link_drops_on_the_receivers_input_and_the_senders_output() {
        let p = plan(
            &cuts(&[("n1", "n2")]),
            &parties(),
            BRIDGE,
            ClientsRule::DataAddressOnly,
        )
        .unwrap();
        assert_eq!(
            p["n2"].input,
            vec!["ip saddr 10.87.0.11 drop comment \"cut n1 -> n2\""]
        );
        assert_eq!(
            p["n1"].output,
            vec!["ip daddr 10.87.0.12 drop comment \"cut n1 -> n2\""]
        );
        assert!(p["n2"].output.is_empty() && p["n1"].input.is_empty());
        assert!(!p.contains_key("n3"));
    }

    #[test]
    fn clients_rules_spare_the_admin_address() {
        let both = cuts(&[("clients", "n1"), ("n1", "clients")]);
        let p = plan(&both, &parties(), BRIDGE, ClientsRule::DataAddressOnly).unwrap();
        let n1 = &p["n1"];
        assert_eq!(
            n1.input,
            vec!["ip saddr 10.87.0.1 ip daddr 10.87.0.11 drop comment \"cut clients -> n1\""]
        );
        assert_eq!(
            n1.output,
            vec!["ip saddr 10.87.0.11 ip daddr 10.87.0.1 drop comment \"cut n1 -> clients\""]
        );
        assert_eq!(p.len(), 1, "nothing is installed for the clients party");
    }

    #[test]
    fn clients_rules_on_real_hosts_spare_the_ssh_port() {
        let both = cuts(&[("clients", "n1"), ("n1", "clients")]);
        let p = plan(&both, &parties(), BRIDGE, ClientsRule::AllTcpBut(22)).unwrap();
        assert_eq!(
            p["n1"].input,
            vec!["ip saddr 10.87.0.1 tcp dport != 22 drop comment \"cut clients -> n1\""]
        );
        assert_eq!(
            p["n1"].output,
            vec!["ip daddr 10.87.0.1 tcp sport != 22 drop comment \"cut n1 -> clients\""]
        );
    }

    #[test]
    fn unknown_parties_are_an_error_and_the_script_replaces_the_table() {
        let err = plan(
            &cuts(&[("n1", "n9")]),
            &parties(),
            BRIDGE,
            ClientsRule::DataAddressOnly,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("\"n9\""), "{err:#}");
        let script = render(
            "redline_000000",
            &HostRules {
                input: vec!["ip saddr 1.2.3.4 drop".into()],
                output: vec![],
            },
        );
        assert!(script.starts_with("table inet redline_000000\ndelete table inet redline_000000\n"));
        assert!(script.contains(
            "type filter hook input priority 0; policy accept;\n    ip saddr 1.2.3.4 drop"
        ));
        assert!(script.contains("chain output"));
    }
}
