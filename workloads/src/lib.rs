//! redline-workloads: what operation to issue next, and how it becomes Redis commands.
//!
//! - [`topology`]: where clients find the master and the replicas (and how they follow a
//!   failover, directly or through Sentinel).

pub mod topology;

pub use topology::{Endpoint, Topology, TopologyError};
