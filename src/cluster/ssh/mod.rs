//! The SSH backend (`--nodes n1=host,...`): every node and Sentinel is a server on a host of its
//! own, driven over SSH as Jepsen drives its nodes; partitions are tagged nftables rules on the
//! hosts; kill and pause are remote signals. Clients reach the servers at the hosts' addresses;
//! the harness's own commands ride SSH port forwards, which partitions spare.
//!
//! - [`hosts`]: parsing `--nodes`.
//! - [`remote`]: one SSH session per host; commands with timeouts; port forwards.
//! - [`scripts`]: the shell scripts run on the hosts (start, signal, probe, sweep), pure.
//! - [`transport`]: [`SshCluster`]: uploading configs, teardown, and what this backend can do
//!   (kill, pause and partition; no link delay). Starting, healing and the rest are the
//!   cluster core's.
//! - [`setup`]: preparing the hosts, with a sweep of what earlier runs left.
//! - [`server`]: a member's server on its host: start, signal, probe.
//! - [`firewall`]: partitions as nftables tables on the hosts.
//! - [`record`]: `ssh.json`, and `redline cleanup` for a killed run.
//!
//! See `docs/hosts.md` for what a host needs and what redline changes on it.

pub mod firewall;
pub mod hosts;
pub mod record;
pub mod remote;
pub mod scripts;
pub mod server;
pub mod setup;
pub mod transport;

pub use hosts::{HostLayout, HostSpec};
pub use record::{cleanup_recorded, SSH_FILE};
pub use remote::SshLogin;
pub use transport::{
    SshCluster, SshOptions, SshTransport, DEFAULT_REMOTE_DIR, NO_DELAY, NO_LAZY_DISK,
};

/// Why the SSH backend cannot run from this machine, or `None`: it drives OpenSSH's client.
pub fn unavailable() -> Option<String> {
    match std::process::Command::new("ssh").arg("-V").output() {
        Ok(_) => None,
        Err(e) => Some(format!(
            "the ssh client is missing (apt-get install -y openssh-client): {e}"
        )),
    }
}
