//! Partitions as nftables rules inside the members' namespaces, as Jepsen cuts real hosts.
//!
//! A cut directed link `(a, b)` means b no longer hears a: a's packets are dropped on b's input
//! (source a) and on a's output (destination b), each rule in the namespace of a member, so the
//! root namespace's firewall is never touched. `clients` is the root namespace's address on the
//! bridge; a rule involving it also names the member's data address, so the harness's admin
//! address for that member stays reachable during the partition. Drops are silent (no RST):
//! established connections stall until the rule goes, as with the local proxy's black hole.
//!
//! Each namespace gets one table, `inet redline_<hex>`, with an `input` and an `output` chain;
//! it is rewritten as a whole (atomically, one `nft -f` transaction) whenever the cut set changes,
//! and deleted on heal.

use super::command::{already_gone, nft_in, run_with_input};
use super::namespace::Host;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The rules of one namespace.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HostRules {
    /// `nft` rule statements for the input chain.
    pub input: Vec<String>,
    /// `nft` rule statements for the output chain.
    pub output: Vec<String>,
}

/// The current cut set and which namespaces hold a table.
#[derive(Debug)]
pub struct Firewall {
    table: String,
    cuts: BTreeSet<(String, String)>,
    installed: BTreeSet<String>,
}

impl Firewall {
    /// A firewall whose tables are named `table`.
    pub fn new(table: String) -> Firewall {
        Firewall {
            table,
            cuts: BTreeSet::new(),
            installed: BTreeSet::new(),
        }
    }

    /// The directed links cut now.
    pub fn cuts(&self) -> &BTreeSet<(String, String)> {
        &self.cuts
    }

    /// Adds `links` to the cut set and rewrites the tables of every namespace concerned.
    pub fn cut(
        &mut self,
        links: &[(String, String)],
        hosts: &[Host],
        clients: Ipv4Addr,
    ) -> Result<()> {
        let mut cuts = self.cuts.clone();
        cuts.extend(links.iter().cloned());
        let plan = plan(&cuts, hosts, clients)?;
        for (namespace, rules) in &plan {
            let script = render(&self.table, rules);
            run_with_input(
                "ip",
                &["netns", "exec", namespace, "nft", "-f", "-"],
                &script,
            )
            .with_context(|| format!("installing partition rules in {namespace}"))?;
            self.installed.insert(namespace.clone());
        }
        self.cuts = cuts;
        Ok(())
    }

    /// Deletes every table this firewall installed and forgets the cuts.
    pub fn heal(&mut self) -> Result<()> {
        let mut failures = Vec::new();
        for namespace in std::mem::take(&mut self.installed) {
            if let Err(e) = nft_in(&namespace, &["delete", "table", "inet", &self.table]) {
                if !already_gone(&e) {
                    failures.push(format!("{namespace}: {e:#}"));
                    self.installed.insert(namespace);
                }
            }
        }
        if !failures.is_empty() {
            bail!("could not lift partition rules: {}", failures.join("; "));
        }
        self.cuts.clear();
        Ok(())
    }
}

/// Where a party's packets come from.
#[derive(Clone, Copy)]
enum Peer {
    Clients(Ipv4Addr),
    Member(Ipv4Addr),
}

/// The rules each namespace needs for `cuts` (namespace name → rules). Pure.
pub fn plan(
    cuts: &BTreeSet<(String, String)>,
    hosts: &[Host],
    clients: Ipv4Addr,
) -> Result<BTreeMap<String, HostRules>> {
    let find = |name: &str| -> Result<Option<&Host>> {
        if name == "clients" {
            return Ok(None);
        }
        let names = || hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>();
        hosts
            .iter()
            .find(|h| h.name == name)
            .map(Some)
            .with_context(|| {
                format!(
                    "no node or Sentinel named {name:?} (have: {:?}, clients)",
                    names()
                )
            })
    };
    let peer = |h: Option<&Host>| h.map_or(Peer::Clients(clients), |h| Peer::Member(h.data));
    let mut plan: BTreeMap<String, HostRules> = BTreeMap::new();
    for (from, to) in cuts {
        let (a, b) = (find(from)?, find(to)?);
        let comment = format!("comment \"cut {from} -> {to}\"");
        if let Some(b) = b {
            let rule = match peer(a) {
                Peer::Member(src) => format!("ip saddr {src} drop {comment}"),
                Peer::Clients(src) => format!("ip saddr {src} ip daddr {} drop {comment}", b.data),
            };
            plan.entry(b.namespace.clone())
                .or_default()
                .input
                .push(rule);
        }
        if let Some(a) = a {
            let rule = match peer(b) {
                Peer::Member(dst) => format!("ip daddr {dst} drop {comment}"),
                Peer::Clients(dst) => format!("ip saddr {} ip daddr {dst} drop {comment}", a.data),
            };
            plan.entry(a.namespace.clone())
                .or_default()
                .output
                .push(rule);
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

    fn hosts() -> Vec<Host> {
        (1..=3)
            .map(|i| Host {
                name: format!("n{i}"),
                namespace: format!("rl-000000-n{i}"),
                data: Ipv4Addr::new(10, 87, 0, 10 + i),
                admin: Ipv4Addr::new(10, 87, 0, 130 + i),
            })
            .collect()
    }

    fn cuts(links: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        links
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_cut_link_drops_on_the_receivers_input_and_the_senders_output() {
        let bridge = Ipv4Addr::new(10, 87, 0, 1);
        let p = plan(&cuts(&[("n1", "n2")]), &hosts(), bridge).unwrap();
        assert_eq!(
            p["rl-000000-n2"].input,
            vec!["ip saddr 10.87.0.11 drop comment \"cut n1 -> n2\""]
        );
        assert_eq!(
            p["rl-000000-n1"].output,
            vec!["ip daddr 10.87.0.12 drop comment \"cut n1 -> n2\""]
        );
        assert!(p["rl-000000-n2"].output.is_empty() && p["rl-000000-n1"].input.is_empty());
        assert!(!p.contains_key("rl-000000-n3"));
    }

    #[test]
    fn clients_rules_spare_the_admin_address() {
        let bridge = Ipv4Addr::new(10, 87, 0, 1);
        let p = plan(
            &cuts(&[("clients", "n1"), ("n1", "clients")]),
            &hosts(),
            bridge,
        )
        .unwrap();
        let n1 = &p["rl-000000-n1"];
        assert_eq!(
            n1.input,
            vec!["ip saddr 10.87.0.1 ip daddr 10.87.0.11 drop comment \"cut clients -> n1\""]
        );
        assert_eq!(
            n1.output,
            vec!["ip saddr 10.87.0.11 ip daddr 10.87.0.1 drop comment \"cut n1 -> clients\""]
        );
        assert_eq!(p.len(), 1, "nothing is installed in the root namespace");
    }

    #[test]
    fn unknown_parties_are_an_error_and_the_script_replaces_the_table() {
        let bridge = Ipv4Addr::new(10, 87, 0, 1);
        assert!(plan(&cuts(&[("n1", "n9")]), &hosts(), bridge).is_err());
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
