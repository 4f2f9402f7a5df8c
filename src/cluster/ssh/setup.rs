//! Preparing the hosts of an SSH cluster, before any server starts: one session per host, the
//! tools checked, what earlier runs left removed (heal on setup: a harness may have been killed
//! halfway), the member folders made and the admin forwards opened.
//!
//! Hosts are prepared in parallel, in two phases with a barrier between them: every host first
//! kills leftover servers and tables, and only then are leftover folders removed and new ones
//! made (hosts may share a filesystem; a pid file removed early would hide another host's
//! leftover server).

use super::firewall::SshHost;
use super::hosts::HostSpec;
use super::remote::{Remote, SshConnection};
use super::scripts;
use super::server::RemoteServer;
use super::transport::{SshTransport, NODE_PORT, SENTINEL_PORT};
use crate::cluster::nft_rules::Party;
use crate::cluster::transport::{Endpoint, Member, Role};
use anyhow::{bail, Context, Result};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// A host after the first phase.
struct Connected {
    spec: HostSpec,
    remote: Remote,
    connection: SshConnection,
}

impl SshTransport {
    /// Both phases for every host; returns the members in the layout's order (nodes by number,
    /// then Sentinels by number: `join_all` keeps it) and gives the firewall their hosts.
    pub(super) async fn prepare_hosts(&mut self) -> Result<Vec<Member<RemoteServer>>> {
        let specs: Vec<HostSpec> = self.options.layout.members().cloned().collect();
        let connected = all_or_error(join_all(specs.iter().map(|s| self.connect(s))).await)?;
        check_addresses(&connected)?;
        let made =
            all_or_error(join_all(connected.into_iter().map(|c| self.make_member(c))).await)?;
        let mut members = Vec::new();
        for (member, host) in made {
            self.firewall.add_host(host);
            members.push(member);
        }
        Ok(members)
    }

    /// Phase one: connect, check the tools, kill what earlier runs left running.
    async fn connect(&self, spec: &HostSpec) -> Result<Connected> {
        let remote = Remote::connect(spec, &self.options.login, &self.control_dir).await?;
        let tools = remote
            .run(
                "checking the server binary",
                &scripts::preflight(&self.server_bin),
            )
            .await?;
        if self.options.partitions && !tools.contains("nft") {
            bail!(
                "{} ({}): nft is missing and the nemesis partitions; install nftables there (apt-get install -y nftables)",
                spec.name,
                remote.label
            );
        }
        let script = scripts::sweep_servers(
            &self.options.remote_dir,
            scripts::ANY_RUN,
            scripts::ANY_REDLINE_TABLE,
            self.tag.as_str(),
        );
        let swept = remote
            .run("stopping what earlier runs left", &script)
            .await?;
        for line in swept.lines() {
            tracing::warn!("{}: left by an earlier run, now gone: {line}", spec.name);
        }
        let connection = remote.connection().await?;
        Ok(Connected {
            spec: spec.clone(),
            remote,
            connection,
        })
    }

    /// Phase two: remove leftover folders, make the member's, open the admin forward.
    async fn make_member(&self, c: Connected) -> Result<(Member<RemoteServer>, SshHost)> {
        let base = &self.options.remote_dir;
        let swept = c
            .remote
            .run(
                "removing earlier runs' folders",
                &scripts::sweep_folders(base, scripts::ANY_RUN, self.tag.as_str()),
            )
            .await?;
        for line in swept.lines() {
            tracing::warn!("{}: left by an earlier run, now gone: {line}", c.spec.name);
        }
        let dir = format!("{base}/{}/{}", self.tag, c.spec.name);
        c.remote
            .run("making the member folder", &scripts::make_dir(base, &dir))
            .await?;
        let role = match c.spec.is_sentinel() {
            true => Role::Sentinel,
            false => Role::Node,
        };
        let port = match role {
            Role::Node => NODE_PORT,
            Role::Sentinel => SENTINEL_PORT,
        };
        let admin = c.remote.forward(port).await?;
        let local_dir = self.run_dir().join("nodes").join(&c.spec.name);
        std::fs::create_dir_all(&local_dir)
            .with_context(|| format!("creating {}", local_dir.display()))?;
        let host = c.connection.host;
        let endpoint = Endpoint {
            admin,
            client: SocketAddr::from((host, port)),
            port,
            // The host's address, and its loopback, where the harness's forward arrives.
            bind: vec![host.into(), Ipv4Addr::LOCALHOST.into()],
            dir: PathBuf::from(&dir),
            local_dir,
        };
        let mut args = vec![endpoint.conf(role).display().to_string()];
        if role == Role::Sentinel {
            args.push("--sentinel".to_string());
        }
        let remote = Arc::new(c.remote);
        let server = RemoteServer::new(remote.clone(), &c.spec.name, &dir, &self.server_bin, args);
        let firewall_host = SshHost {
            party: Party {
                name: c.spec.name.clone(),
                addr: host,
            },
            harness: c.connection.harness,
            sshd_port: c.connection.sshd_port,
            remote,
        };
        let member = Member {
            name: c.spec.name,
            role,
            endpoint,
            server,
        };
        Ok((member, firewall_host))
    }
}

/// Every member needs an address of its own (partitions are rules by address), not a loopback
/// one (the servers must be reachable from the other hosts), and not the harness machine's.
fn check_addresses(connected: &[Connected]) -> Result<()> {
    let mut seen: BTreeMap<std::net::Ipv4Addr, &str> = BTreeMap::new();
    for c in connected {
        let addr = c.connection.host;
        if addr.is_loopback() || addr == c.connection.harness {
            bail!(
                "{} ({}) is this machine or a loopback address ({addr}); each member needs a host of its own, reachable by the others",
                c.spec.name,
                c.remote.label
            );
        }
        if let Some(other) = seen.insert(addr, &c.spec.name) {
            bail!(
                "{other} and {} are the same host ({addr}); each member needs a host of its own (partitions are firewall rules by address)",
                c.spec.name
            );
        }
    }
    Ok(())
}

/// All the values, or one error listing every failure.
fn all_or_error<T>(results: Vec<Result<T>>) -> Result<Vec<T>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!("setting up the hosts failed:\n  {}", errors.join("\n  "));
    }
    Ok(ok)
}
