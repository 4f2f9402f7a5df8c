//! The cluster under test: a master, its replicas and optional Sentinels, each a real server
//! process of this run, each behind a redline proxy.
//!
//! - [`process`]: one server process (spawn, signals, reap; killed on drop).
//! - [`redis_conf`]: the config files redline writes.
//! - [`proxy`], [`links`], [`peer_identity`]: the proxies and the link rules they obey.
//! - [`admin`]: the harness's own commands to servers (INFO, REPLICAOF), bypassing proxies.
//! - [`features`]: what the server under test supports (WAITAOF, FAILOVER, dual-channel).
//! - [`capabilities`]: the fault traits (`Kill`, `Pause`, `Partition`, `LinkDelay`, `Promote`).
//! - [`backend`]: what the runner needs of any cluster (layout, addresses, heal, teardown).
//! - [`convergence`]: one master, replicas caught up, after healing; for any backend.
//! - [`netns`]: the backend with one network namespace per node and nftables partitions.
//! - [`nft_rules`]: the DROP rules a set of cut links needs on each member's host.
//! - [`ssh`]: the backend on real hosts driven over SSH, with nftables partitions on them.
//! - [`local`]: the local backend, implementing every capability on 127.0.0.1.
//! - [`sentinel_events`]: following Sentinel's event stream into the history.
//! - [`pids`]: the run's pid file, and `redline cleanup` for runs that could not clean up.

pub mod admin;
pub mod backend;
pub mod capabilities;
pub mod convergence;
pub mod features;
pub mod links;
pub mod local;
pub mod local_faults;
pub mod netns;
pub mod nft_rules;
pub mod peer_identity;
pub mod pids;
pub mod process;
pub mod proxy;
pub mod redis_conf;
pub mod sentinel_events;
pub mod ssh;

pub use local::{ClusterSpec, LocalCluster};
