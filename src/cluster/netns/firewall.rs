//! Partitions as nftables rules inside the members' namespaces, as Jepsen cuts real hosts.
//!
//! The rules themselves come from [`nft_rules`](crate::cluster::nft_rules), each installed in
//! the namespace of its member, so the root namespace's firewall is never touched. `clients` is
//! the root namespace's address on the bridge; a rule involving it also names the member's data
//! address, so the harness's admin address for that member stays reachable during the partition.
//!
//! Each namespace gets one table, `inet redline_<hex>`, with an `input` and an `output` chain;
//! it is rewritten as a whole (atomically, one `nft -f` transaction) whenever the cut set changes,
//! and deleted on heal.

use super::command::{already_gone, nft_in, run_with_input};
use super::namespace::Host;
use crate::cluster::nft_rules::{plan, render, ClientsRule, Party};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

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
        let parties: Vec<Party> = hosts
            .iter()
            .map(|h| Party {
                name: h.name.clone(),
                addr: h.data,
            })
            .collect();
        let plan = plan(&cuts, &parties, clients, ClientsRule::DataAddressOnly)?;
        for (member, rules) in &plan {
            let namespace = &hosts
                .iter()
                .find(|h| &h.name == member)
                .context("a planned member has a host")?
                .namespace;
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
