//! Partitions in network namespaces, as Jepsen cuts real hosts: each member's rules go into its
//! own namespace, so the root namespace's firewall is never touched. `clients` is the root
//! namespace's address on the bridge; a rule involving it also names the member's data address,
//! so the harness's admin address for that member stays reachable during the partition.
//!
//! Each namespace gets one table, `inet redline_<hex>`, with an `input` and an `output` chain
//! (see [`Firewall`](crate::cluster::firewall::Firewall)).

use super::command::{already_gone, nft_in, run_with_input};
use super::namespace::Host;
use crate::cluster::firewall::RuleHost;
use crate::cluster::nft_rules::{ClientsRule, Party};
use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use std::net::Ipv4Addr;

/// A member's namespace, as the firewall reaches it (the nft commands are quick local calls,
/// done in place).
#[derive(Debug, Clone)]
pub struct NamespaceHost {
    party: Party,
    namespace: String,
    /// The root namespace's address on the bridge.
    clients: Ipv4Addr,
}

impl NamespaceHost {
    pub fn new(host: &Host, clients: Ipv4Addr) -> NamespaceHost {
        NamespaceHost {
            party: Party {
                name: host.name.clone(),
                addr: host.data,
            },
            namespace: host.namespace.clone(),
            clients,
        }
    }
}

impl RuleHost for NamespaceHost {
    fn party(&self) -> &Party {
        &self.party
    }

    fn clients(&self) -> (Ipv4Addr, ClientsRule) {
        (self.clients, ClientsRule::DataAddressOnly)
    }

    fn load<'a>(&'a self, script: &'a str) -> BoxFuture<'a, Result<()>> {
        let ns = &self.namespace;
        let done = run_with_input("ip", &["netns", "exec", ns, "nft", "-f", "-"], script)
            .with_context(|| format!("installing partition rules in {ns}"))
            .map(drop);
        Box::pin(async { done })
    }

    fn delete<'a>(&'a self, table: &'a str) -> BoxFuture<'a, Result<()>> {
        let done = match nft_in(&self.namespace, &["delete", "table", "inet", table]) {
            Err(e) if !already_gone(&e) => Err(e),
            _ => Ok(()),
        };
        Box::pin(async { done })
    }
}
