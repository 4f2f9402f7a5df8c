//! One SSH session per host (OpenSSH's own client, multiplexed through a control master by the
//! `openssh` crate): run a shell script there with a timeout, feed it a file, forward a local
//! port to the host's loopback. Every error names the member, the host and the command.
//!
//! Commands run as the SSH user, or through `sudo -n` when that user is not root (servers,
//! firewall rules and signals need root or the server's owner; `sudo -n` fails at once rather
//! than waiting for a password nobody will type).

use super::hosts::HostSpec;
use anyhow::{bail, Context, Result};
use openssh::{ForwardType, KnownHosts, Session, SessionBuilder, Stdio};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

/// How redline logs in to the hosts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SshLogin {
    /// `--ssh-user`.
    pub user: String,
    /// `--ssh-key`: the private key (only that key is offered); `None` uses ssh's defaults.
    pub key: Option<PathBuf>,
    /// `--ssh-known-hosts`: check host keys strictly against this file; `None` uses the user's
    /// known_hosts, accepting hosts seen for the first time (StrictHostKeyChecking=accept-new).
    pub known_hosts: Option<PathBuf>,
}

/// The longest a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest any one remote command may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// A live SSH session to one member's host.
pub struct Remote {
    /// The member on this host (`n1`, `s1`, ...).
    pub member: String,
    /// `user@host:port`, for messages.
    pub label: String,
    session: Session,
    sudo: bool,
}

impl Remote {
    /// Opens the session (its control socket goes in `control_dir`) and checks that commands run.
    pub async fn connect(spec: &HostSpec, login: &SshLogin, control_dir: &Path) -> Result<Remote> {
        let label = format!("{}@{}:{}", login.user, spec.host, spec.port);
        let mut b = SessionBuilder::default();
        b.user(login.user.clone())
            .port(spec.port)
            .connect_timeout(CONNECT_TIMEOUT)
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(control_dir);
        if let Some(key) = &login.key {
            b.keyfile(key);
        }
        match &login.known_hosts {
            Some(file) => {
                b.known_hosts_check(KnownHosts::Strict)
                    .user_known_hosts_file(file);
            }
            None => {
                b.known_hosts_check(KnownHosts::Add);
            }
        }
        let session = within(CONNECT_TIMEOUT * 2, b.connect(&spec.host))
            .await
            .with_context(|| {
                format!(
                    "connecting to {} ({label}) over SSH; check the address, that sshd runs there, \
                     and that the key is authorized (try: ssh -p {} {}@{})",
                    spec.name, spec.port, login.user, spec.host
                )
            })?;
        let remote = Remote {
            member: spec.name.clone(),
            label,
            session,
            sudo: login.user != "root",
        };
        remote.run("checking that commands run", "true").await?;
        Ok(remote)
    }

    /// Runs `script` with `sh -c` (through `sudo -n` unless root) and returns its stdout; a
    /// non-zero exit, a timeout or a lost connection is an error naming the member, the host and
    /// `what` the script does.
    pub async fn run(&self, what: &str, script: &str) -> Result<String> {
        self.run_inner(what, script, None).await
    }

    /// [`Remote::run`] with `input` on the script's stdin (to upload a file: `cat > path`).
    pub async fn run_with_input(&self, what: &str, script: &str, input: &[u8]) -> Result<String> {
        self.run_inner(what, script, Some(input)).await
    }

    async fn run_inner(&self, what: &str, script: &str, input: Option<&[u8]>) -> Result<String> {
        let context = || format!("on {} ({}): {what}", self.member, self.label);
        let run = async {
            let mut cmd = if self.sudo {
                let mut c = self.session.command("sudo");
                c.args(["-n", "sh", "-c", script]);
                c
            } else {
                let mut c = self.session.command("sh");
                c.args(["-c", script]);
                c
            };
            cmd.stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            let mut child = cmd.spawn().await?;
            if let (Some(bytes), Some(mut stdin)) = (input, child.stdin().take()) {
                stdin
                    .write_all(bytes)
                    .await
                    .map_err(openssh::Error::ChildIo)?;
                stdin.shutdown().await.map_err(openssh::Error::ChildIo)?;
                drop(stdin);
            }
            child.wait_with_output().await
        };
        let out = within(COMMAND_TIMEOUT, run).await.with_context(context)?;
        if !out.status.success() {
            bail!(
                "{} failed ({}): {}",
                context(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Forwards a free port on this machine's loopback to `127.0.0.1:port` on the host, through
    /// the SSH connection (so firewall partitions, which spare the SSH port, never cut it).
    pub async fn forward(&self, port: u16) -> Result<SocketAddr> {
        let mut last = None;
        for _ in 0..5 {
            let local = free_local_port()?;
            let request = self.session.request_port_forward(
                ForwardType::Local,
                local,
                SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            );
            match within(COMMAND_TIMEOUT, request).await {
                Ok(()) => return Ok(local),
                // Another process may have taken the port between probing and forwarding.
                Err(e) => last = Some(e),
            }
        }
        let error = last.unwrap_or_else(|| anyhow::anyhow!("no attempt made"));
        Err(error).with_context(|| {
            format!(
                "forwarding a local port to {}'s port {port} ({})",
                self.member, self.label
            )
        })
    }

    /// How this connection looks from the host (`$SSH_CONNECTION`): the harness's address (the
    /// `clients` party of a partition), the host's own address (where its server binds and
    /// what its peers use) and the port sshd listens on (which partitions spare).
    pub async fn connection(&self) -> Result<SshConnection> {
        // `sudo` resets the environment, so ask without it.
        let mut cmd = self.session.command("sh");
        cmd.args(["-c", super::scripts::SSH_CONNECTION]);
        let out = within(COMMAND_TIMEOUT, cmd.output())
            .await
            .with_context(|| {
                format!(
                    "reading $SSH_CONNECTION on {} ({})",
                    self.member, self.label
                )
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        SshConnection::parse(&text).with_context(|| {
            format!(
                "{} ({}): $SSH_CONNECTION is {:?}, not `client port server port` over IPv4",
                self.member,
                self.label,
                text.trim()
            )
        })
    }
}

/// The host's view of an SSH connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshConnection {
    /// The harness's address as the host sees it.
    pub harness: Ipv4Addr,
    /// The host's own address on this connection.
    pub host: Ipv4Addr,
    /// The port sshd listens on (which may differ from the one dialled, behind NAT).
    pub sshd_port: u16,
}

impl SshConnection {
    /// Parses `client_ip client_port server_ip server_port`.
    pub fn parse(text: &str) -> Option<SshConnection> {
        let mut words = text.split_whitespace();
        let harness = words.next()?.parse().ok()?;
        let _client_port = words.next()?;
        let host = words.next()?.parse().ok()?;
        let sshd_port = words.next()?.parse().ok()?;
        Some(SshConnection {
            harness,
            host,
            sshd_port,
        })
    }
}

/// `fut`, or an error when it takes longer than `limit`.
async fn within<T, E>(
    limit: Duration,
    fut: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> Result<T>
where
    anyhow::Error: From<E>,
{
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(anyhow::Error::from),
        Err(_) => Err(anyhow::anyhow!("no answer within {limit:?}")),
    }
}

fn free_local_port() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("finding a free local port for an SSH forward")?;
    Ok(listener.local_addr()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_view_of_a_connection_parses() {
        let c = SshConnection::parse("10.89.3.1 51234 10.89.3.11 22\n").unwrap();
        assert_eq!(c.harness, Ipv4Addr::new(10, 89, 3, 1));
        assert_eq!(c.host, Ipv4Addr::new(10, 89, 3, 11));
        assert_eq!(c.sshd_port, 22);
        assert!(SshConnection::parse("").is_none());
        assert!(SshConnection::parse("::1 5 ::1 22").is_none());
    }
}
