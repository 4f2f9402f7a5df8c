//! Partitions on SSH hosts: each host's rules name the harness as that host sees it and spare
//! that host's sshd port, so the harness's own commands and port forwards are never cut (see
//! [`Firewall`](crate::cluster::firewall::Firewall)).

use super::remote::Remote;
use super::scripts;
use crate::cluster::firewall::RuleHost;
use crate::cluster::nft_rules::{ClientsRule, Party};
use anyhow::Result;
use futures_util::future::BoxFuture;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A member's host, as the firewall reaches it.
pub struct SshHost {
    /// The member, at the host's own address (what its peers use).
    pub party: Party,
    /// The harness's address as this host sees it (the `clients` party).
    pub harness: Ipv4Addr,
    /// The port this host's sshd listens on (spared by every rule).
    pub sshd_port: u16,
    pub remote: Arc<Remote>,
}

impl RuleHost for SshHost {
    fn party(&self) -> &Party {
        &self.party
    }

    fn clients(&self) -> (Ipv4Addr, ClientsRule) {
        (self.harness, ClientsRule::AllTcpBut(self.sshd_port))
    }

    fn load<'a>(&'a self, script: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let what = "installing partition rules (nft -f)";
            self.remote
                .run_with_input(what, scripts::NFT_LOAD, script.as_bytes())
                .await
                .map(drop)
        })
    }

    fn delete<'a>(&'a self, table: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let script = scripts::nft_delete(table);
            self.remote
                .run("lifting partition rules", &script)
                .await
                .map(drop)
        })
    }
}
