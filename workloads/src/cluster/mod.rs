//! Redis Cluster, as an application's client sees it (`--topology cluster`).
//!
//! - [`slot`]: the key → slot function (CRC16, hash tags), and the slots each shard starts with.
//! - [`keys`]: hash tags that spread a workload's keys over every shard, and keep a
//!   transaction's keys in one slot.
//! - [`slot_map`]: a client's map of which shard serves which slot (`CLUSTER SHARDS` / `SLOTS`).
//! - [`refusal`]: the cluster's refusals (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`), read.
//! - [`routing`]: the cluster client: routes each operation by its slot, follows redirects,
//!   records them, reads replicas with `READONLY`.

pub mod keys;
pub mod refusal;
pub mod routing;
pub mod slot;
pub mod slot_map;
