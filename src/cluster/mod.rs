//! The cluster under test: a master, its replicas and optional Sentinels, each a real server
//! process of this run, on one of three backends.
//!
//! - [`core`]: [`Cluster`], the one skeleton every backend shares: members, start order, the
//!   start-and-poll loop, Sentinel setup, kill/pause, healing, the pid file.
//! - [`transport`]: what a backend provides to the core (lay out members, start and signal a
//!   server, install a config, its link control).
//! - [`local`]: the default backend, processes on 127.0.0.1 behind redline's proxies.
//! - [`netns`]: one network namespace per member, nftables partitions.
//! - [`ssh`]: real hosts driven over SSH, nftables partitions on them.
//! - [`any`]: [`BackendKind`], the enum that chooses the backend, and [`AnyCluster`].
//! - [`capabilities`]: the fault traits; `Partition`, `LinkDelay` and `PowerLoss` are
//!   optional, asked for.
//! - [`backend`]: what the runner needs of any cluster (layout, addresses, heal, teardown).
//! - [`process`]: one server process on this machine (spawn, group signals, reap).
//! - [`redis_conf`]: the config files redline writes, and the rule every value goes through.
//! - [`firewall`]: partitions as nftables tables on the members' hosts (netns, SSH).
//! - [`links`]: the local backend's link table (cut and delayed links between parties).
//! - [`nft_rules`]: the DROP rules a set of cut links needs on each member's host.
//! - [`admin`]: the harness's own commands to servers (INFO, REPLICAOF), bypassing faults.
//! - [`features`]: what the server under test supports (WAITAOF, FAILOVER, dual-channel).
//! - [`convergence`]: one master, replicas caught up, after healing; for any backend.
//! - [`sentinel_events`]: following Sentinel's event stream into the history.
//! - [`disks`]: the nodes' lazy disks (`redline-lazyfs`), for power losses and slow disks.
//! - [`pids`]: the run's pid file, and `redline cleanup` for runs that could not clean up.

pub mod admin;
pub mod any;
pub mod backend;
pub mod capabilities;
pub mod convergence;
pub mod core;
pub mod disks;
pub mod features;
pub mod firewall;
pub mod links;
pub mod local;
pub mod netns;
pub mod nft_rules;
pub mod pids;
pub mod process;
pub mod redis_conf;
pub mod sentinel_events;
pub mod ssh;
pub mod transport;

pub use any::{AnyCluster, BackendKind};
pub use core::{Cluster, ClusterSpec};
pub use local::LocalCluster;
