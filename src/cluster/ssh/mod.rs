//! The SSH backend (`--nodes n1=host,...`): every node and Sentinel is a server on a host of its
//! own, driven over SSH as Jepsen drives its nodes; partitions are tagged nftables rules on the
//! hosts; kill and pause are remote signals. Clients reach the servers at the hosts' addresses;
//! the harness's own commands ride SSH port forwards, which partitions spare.
//!
//! - [`hosts`]: parsing `--nodes`.
//! - [`remote`]: one SSH session per host; commands with timeouts; port forwards.
//! - [`scripts`]: the shell scripts run on the hosts (start, signal, probe, sweep), pure.
//! - [`cluster`]: [`SshCluster`]: configs, starting servers, teardown.
//! - [`setup`]: preparing the hosts, with a sweep of what earlier runs left.
//! - [`faults`]: the capability traits and healing.
//! - [`view`]: names, addresses and states; the `Backend` implementation.
//! - [`record`]: `ssh.json`, and `redline cleanup` for a killed run.
//!
//! See `docs/hosts.md` for what a host needs and what redline changes on it.

pub mod cluster;
pub mod faults;
pub mod hosts;
pub mod record;
pub mod remote;
pub mod scripts;
pub mod setup;
pub mod view;

pub use cluster::{SshCluster, SshOptions, DEFAULT_REMOTE_DIR};
pub use faults::NO_DELAY;
pub use hosts::{HostLayout, HostSpec};
pub use record::{cleanup_recorded, SSH_FILE};
pub use remote::SshLogin;

/// Why the SSH backend cannot run from this machine, or `None`: it drives OpenSSH's client.
pub fn unavailable() -> Option<String> {
    match std::process::Command::new("ssh").arg("-V").output() {
        Ok(_) => None,
        Err(e) => Some(format!(
            "the ssh client is missing (apt-get install -y openssh-client): {e}"
        )),
    }
}
