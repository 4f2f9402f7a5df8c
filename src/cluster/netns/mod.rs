//! The `netns` backend (`--net netns`, root): one network namespace per node and Sentinel,
//! joined by veth pairs to a bridge redline creates, on a private /24 the run owns; partitions
//! are tagged nftables DROP rules inside the namespaces, as Jepsen does on real hosts. Clients
//! reach the nodes with no proxy, from the root namespace's address on the bridge.
//!
//! - [`names`]: the run tag, the subnet and the address plan; what counts as a redline name.
//! - [`command`]: running `ip` and `nft`, with errors that say what failed.
//! - [`namespace`]: creating and removing the bridge, namespaces and veths; `netns.json`.
//! - [`firewall`]: each namespace as a host of the shared nftables firewall.
//! - [`transport`]: [`NetnsCluster`]: the servers inside the namespaces, and what this backend
//!   can do (kill, pause and partition; no link delay, as this kernel has no netem). Starting,
//!   healing and the rest are the cluster core's.
//! - [`cleanup`]: removing what a killed run left ([`cleanup_netns`], [`cleanup_recorded`]).
//!
//! See `docs/hosts.md` for what is created and removed, and why.

pub mod cleanup;
pub mod command;
pub mod firewall;
pub mod names;
pub mod namespace;
pub mod transport;

pub use cleanup::{cleanup_netns, cleanup_recorded, NetnsCleanup};
pub use names::{Subnet, Tag};
pub use namespace::NETNS_FILE;
pub use transport::{NetnsCluster, NetnsOptions, NetnsTransport, NO_NETEM};

/// Why the netns backend cannot run here, or `None` when it can: it needs root, `ip netns`
/// and `nft`. Tests and the runner call this to skip or refuse with a clear reason.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the netns backend needs root".to_string());
    }
    if let Err(e) = command::ip(&["netns", "list"]) {
        return Some(format!("`ip netns` does not work here: {e:#}"));
    }
    if let Err(e) = command::run("nft", &["--version"]) {
        return Some(format!(
            "nft is missing (apt-get install -y nftables): {e:#}"
        ));
    }
    None
}
