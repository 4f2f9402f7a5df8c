//! Partitions and delays on the local backend: rules of the link table every proxy obeys, so a
//! cut link black-holes its bytes (no RST) and a delayed link delivers each chunk late.

use crate::cluster::capabilities::{LinkDelay, Partition};
use crate::cluster::links::{Delay, LinkTable, Party};
use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The link table and the parties it knows, by name.
pub struct ProxyLinks {
    table: Arc<LinkTable>,
    parties: BTreeMap<String, Party>,
}

impl ProxyLinks {
    pub fn new(table: Arc<LinkTable>) -> ProxyLinks {
        ProxyLinks {
            table,
            parties: BTreeMap::new(),
        }
    }

    /// The table the proxies read.
    pub fn table(&self) -> Arc<LinkTable> {
        self.table.clone()
    }

    pub fn add_party(&mut self, party: Party) {
        self.parties.insert(party.name().to_string(), party);
    }

    fn party(&self, name: &str) -> Result<Party> {
        if name == Party::Clients.name() {
            return Ok(Party::Clients);
        }
        self.parties
            .get(name)
            .cloned()
            .with_context(|| format!("no node or Sentinel named {name:?}"))
    }

    fn parties(&self, links: &[(String, String)]) -> Result<Vec<(Party, Party)>> {
        links
            .iter()
            .map(|(a, b)| Ok((self.party(a)?, self.party(b)?)))
            .collect()
    }
}

impl Partition for ProxyLinks {
    fn cut<'a>(&'a mut self, links: &'a [(String, String)]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let pairs = self.parties(links)?;
            self.table.cut(&pairs);
            Ok(())
        })
    }

    fn heal(&mut self) -> BoxFuture<'_, Result<()>> {
        self.table.heal_partitions();
        Box::pin(async { Ok(()) })
    }

    fn cut_links(&self) -> Vec<(String, String)> {
        self.table
            .cut_links()
            .into_iter()
            .map(|(a, b)| (a.name().to_string(), b.name().to_string()))
            .collect()
    }
}

impl LinkDelay for ProxyLinks {
    fn delay<'a>(
        &'a mut self,
        links: &'a [(String, String)],
        delay: Delay,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let pairs = self.parties(links)?;
            self.table.delay(&pairs, delay);
            Ok(())
        })
    }

    fn undelay(&mut self) -> BoxFuture<'_, Result<()>> {
        self.table.clear_delays();
        Box::pin(async { Ok(()) })
    }
}
