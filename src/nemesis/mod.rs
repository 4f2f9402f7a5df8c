//! The nemesis: Jepsen's name for the fault injector.
//!
//! - [`spec`]: the `--nemesis` language (faults, targets, grudges).
//! - [`schedule`]: the seeded plan of which fault fires when, written to `test.json`.
//! - [`grudge`]: partitions as sets of cut links, from the layout at the time of the fault.
//! - [`driver`]: applying and healing each fault, recording both in the history.
//! - [`promote`]: manual failover (`REPLICAOF`), on any backend.
//! - [`shards`]: the faults on a Redis Cluster, shard by shard (`failover:cluster`, `migrate`).

pub mod driver;
pub mod grudge;
pub mod promote;
pub mod schedule;
pub mod shards;
pub mod spec;
