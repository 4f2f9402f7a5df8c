//! redline-workloads: what operation to issue next, and how it becomes Redis commands.
//!
//! The harness drives one loop per client process: ask the [`Generator`] for the next
//! invocation, record it, hand it to that process's [`Client`], record the completion it
//! returns. After the run, [`final_reads`] reads every node directly.
//!
//! - [`config`]: [`WorkloadConfig`], what a workload does (keys, read routing, WAIT, timeouts).
//! - [`generator`]: seeded, per-process deterministic invocations with unique written values.
//! - [`client`]: one process's connections and routing; turns an invocation into a completion.
//! - [`execute`]: the Redis commands of each operation and how replies become values.
//! - [`outcome`]: the error mapping, `fail` (certainly not applied) versus `info` (unknown).
//! - [`final_reads`]: reading everything back from one node after healing.
//! - [`topology`]: where clients find the master and the replicas (and how they follow a
//!   failover, directly or through Sentinel).

pub mod client;
pub mod config;
pub mod execute;
pub mod final_reads;
pub mod generator;
pub mod outcome;
pub mod topology;

pub use client::Client;
pub use config::{ReadFrom, ReplicaRouting, WorkloadConfig};
pub use final_reads::{final_read_invocations, final_reads};
pub use generator::Generator;
pub use outcome::{Effect, Failure};
pub use topology::{Endpoint, Topology, TopologyError};
