//! redline-checkers: the history model and every consistency checker, as pure functions.
//!
//! Nothing here touches the network, a Redis connection or the clock: a checker is a function
//! of a [`History`] and options, so a stored history checks the same years later.
//!
//! - [`history`]: `Op`, pairing of invocations with completions, JSONL reading and writing.
//! - [`result`]: `CheckResult`, `Anomaly`, `Validity` and the composed `Results`.
//! - [`registry`]: checker names, which checkers suit which workload, running a selection.
//! - [`expect`]: `--expect` rules and whether a result meets them.
//! - [`final_reads`]: the final reads after healing and the post-failover master they trust.
//! - [`lost_writes`]: acknowledged adds missing from the final read (Jepsen's set-full).
//! - [`register_versions`]: the per-key real-time version order of register writes.
//! - [`stale_reads`]: replica reads that returned a superseded value.
//! - [`session`]: read-your-writes and monotonic-reads per process.
//! - [`wait`]: lost writes grouped by WAIT / WAITAOF acknowledgement level.
//! - [`consistency_model`]: Elle's lattice of consistency models and the anomalies each
//!   prohibits; what a set of anomalies rules out (`not`, `also-not`).
//! - [`counter`]: Jepsen's counter bounds on INCR/GET.
//! - [`linearizable`]: Wing & Gong / Lowe search for single-register linearizability.
//! - [`txn_cycles`]: Elle's list-append inference and dependency-cycle search.
//! - [`rw_register`]: Elle's rw-register checker (transactions of register writes and reads).
//! - [`availability`]: outcome counts, latency quantiles, unavailability windows.
//! - [`split_brain`]: intervals in which two nodes acted as master and both acknowledged writes.
//! - [`telemetry`]: what a run sampled beside its history (`INFO persistence` per node), as
//!   data that explanations cite; never part of a verdict.
//! - [`shards`]: Redis Cluster: results per shard, the cluster's timeline, split-brain per slot,
//!   the failover or migration that dropped a lost write.
//! - [`names`]: anomaly kinds and statistic keys, shared by checkers, rules, reports, suites.
//! - [`quantiles`]: small statistics helpers shared by the checkers.

pub mod availability;
pub mod consistency_model;
pub mod counter;
pub mod expect;
pub mod final_reads;
pub mod history;
pub mod linearizable;
pub mod lost_writes;
pub mod names;
pub mod quantiles;
pub mod register_versions;
pub mod registry;
pub mod result;
pub mod rw_register;
pub mod sentinel_failovers;
pub mod session;
pub mod shards;
pub mod split_brain;
pub mod stale_reads;
pub mod telemetry;
pub mod txn_cycles;
pub mod wait;

pub use history::{Function, History, HistoryError, NemesisValue, Op, OpType, Operation, Process};
pub use registry::{CheckOptions, CheckerName, KeyAssumptions, Model, WorkloadKind};
pub use result::{
    Anomaly, Brief, CheckResult, ExpectationOutcome, InputSummary, Results, Validity,
};
