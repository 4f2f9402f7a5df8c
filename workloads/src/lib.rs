//! redline-workloads: what operation to issue next, and how it becomes Redis commands.
//!
//! The harness drives one loop per client process: ask the [`Generator`] for the next
//! invocation, record it, hand it to that process's [`Client`], record the completion it
//! returns. After the run, [`final_reads`] reads every node directly.
//!
//! - [`workload`]: the [`Workload`] trait and one module per workload (set, register, counter,
//!   wait, waitaof, list-append): what it generates, its Redis commands, its final reads, its
//!   history model, the server features it needs and its defaults; [`workload::ALL`] registers
//!   them.
//! - [`config`]: [`WorkloadConfig`], the options of one run (workload, keys, read routing,
//!   WAIT, timeouts).
//! - [`generator`]: seeded, per-process deterministic invocations with unique written values.
//! - [`keys`]: bounded keys: sets and lists move to fresh keys as they fill, so a read costs
//!   the same at any run length; every key used is read back at the end.
//! - [`client`]: one process's connections and routing; turns an invocation into a completion.
//! - [`cluster`]: Redis Cluster as applications use it: slots, the slot map, redirects.
//! - [`connection`]: one connection, driven by its process's own task: a command written, its
//!   reply framed and decoded.
//! - [`reply`]: how Redis replies become history values, and op values command arguments.
//! - [`outcome`]: the error mapping, `fail` (certainly not applied) versus `info` (unknown).
//! - [`final_reads`]: reading everything back from one node after healing, bounded and retried.
//! - [`feature`]: server commands a workload (or a fault) may need.
//! - [`topology`]: where clients find the master and the replicas (and how they follow a
//!   failover, directly or through Sentinel).

pub mod client;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod feature;
pub mod final_reads;
pub mod generator;
pub mod keys;
pub mod outcome;
pub mod reply;
pub mod topology;
pub mod workload;

pub use client::Client;
pub use config::{ReadFrom, ReplicaRouting, WorkloadConfig};
pub use feature::Feature;
pub use final_reads::{final_read_invocations, final_reads, read_node, read_node_where, NodeReads};
pub use generator::Generator;
pub use outcome::{Effect, Failure};
pub use topology::{Endpoint, Topology, TopologyError};
pub use workload::{by_name, UnknownWorkload, Workload};
