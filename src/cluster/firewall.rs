//! Partitions as firewall rules on the members' hosts, for every backend that cuts links that
//! way (a namespace per member, or real hosts over SSH): the run's cut set, and one nftables
//! table per host that a cut concerns, replaced atomically (`nft -f`) as the cut set grows and
//! deleted on heal. Which rules a host needs is [`nft_rules`](super::nft_rules)'s; how a
//! script reaches a host is the backend's [`RuleHost`].

use super::capabilities::Partition;
use super::nft_rules::{self, ClientsRule, Party};
use anyhow::{bail, Context, Result};
use futures_util::future::{join_all, BoxFuture};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// One member's host, as the firewall reaches it.
pub trait RuleHost: Send + Sync {
    /// The member on this host, at the address its peers use (what rules match).
    fn party(&self) -> &Party;
    /// The harness's address as this host sees it (the `clients` party), and how a rule that
    /// cuts it spares the harness's own channel to the member.
    fn clients(&self) -> (Ipv4Addr, ClientsRule);
    /// Replaces the run's table on this host with the `nft -f` script `script`.
    fn load<'a>(&'a self, script: &'a str) -> BoxFuture<'a, Result<()>>;
    /// Deletes the run's table `table` on this host; no error when it is not there.
    fn delete<'a>(&'a self, table: &'a str) -> BoxFuture<'a, Result<()>>;
}

/// The run's cut set and the hosts it applies to.
pub struct Firewall<H> {
    /// The run's table name (`redline_<hex>`), the same on every host.
    table: String,
    cuts: BTreeSet<(String, String)>,
    hosts: Vec<H>,
}

impl<H: RuleHost> Firewall<H> {
    /// A firewall whose tables are named `table`, over `hosts`.
    pub fn new(table: String, hosts: Vec<H>) -> Firewall<H> {
        Firewall {
            table,
            cuts: BTreeSet::new(),
            hosts,
        }
    }

    pub fn add_host(&mut self, host: H) {
        self.hosts.push(host);
    }

    /// Forgets the hosts (and whatever they hold, such as SSH sessions).
    pub fn clear_hosts(&mut self) {
        self.hosts.clear();
    }

    /// Adds `links` to the cut set and rewrites the run's table on every host concerned, on
    /// all of them at once: over SSH a host takes a round trip or more, and one after the other
    /// a cut of six hosts took seconds to be whole.
    async fn install(&mut self, links: &[(String, String)]) -> Result<()> {
        let mut cuts = self.cuts.clone();
        cuts.extend(links.iter().cloned());
        let parties: Vec<Party> = self.hosts.iter().map(|h| h.party().clone()).collect();
        let mut scripts = Vec::new();
        for h in &self.hosts {
            let (clients, rule) = h.clients();
            let mut plan = nft_rules::plan(&cuts, &parties, clients, rule)?;
            if let Some(rules) = plan.remove(&h.party().name) {
                scripts.push((h, nft_rules::render(&self.table, &rules)));
            }
        }
        let loads = scripts.iter().map(|(h, script)| async move {
            let name = &h.party().name;
            h.load(script)
                .await
                .with_context(|| format!("installing partition rules for {name}"))
        });
        for done in join_all(loads).await {
            done?;
        }
        self.cuts = cuts;
        Ok(())
    }

    /// Deletes the run's table on every host at once (not only those known to hold one: a cut
    /// that failed halfway may have left one). Every host is tried; the error lists every
    /// failure.
    async fn lift(&mut self) -> Result<()> {
        let table = &self.table;
        let deletes = self.hosts.iter().map(|h| async move {
            let done = h.delete(table).await;
            done.map_err(|e| format!("{}: {e:#}", h.party().name))
        });
        let failures: Vec<String> = join_all(deletes)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if !failures.is_empty() {
            bail!("could not lift partition rules: {}", failures.join("; "));
        }
        self.cuts.clear();
        Ok(())
    }
}

impl<H: RuleHost> Partition for Firewall<H> {
    fn cut<'a>(&'a mut self, links: &'a [(String, String)]) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.install(links))
    }

    fn heal(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.lift())
    }

    fn cut_links(&self) -> Vec<(String, String)> {
        self.cuts.iter().cloned().collect()
    }
}
