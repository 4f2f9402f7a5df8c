//! The names `results.json` uses for anomaly kinds and statistics, in one place: the checkers
//! that produce them, `--expect` rules, the reports and the suite summaries all read these
//! constants, so a renamed statistic cannot silently leave a rule or a table reading nothing.
//!
//! Checker names are [`crate::CheckerName`]. txn-cycles anomaly kinds are Elle's names, built
//! from its anomaly classes, and are not repeated here.

/// Anomaly kinds (DESIGN.md section 4), one anomaly per element, read or key.
pub mod kind {
    /// An acknowledged add absent from the final read of the post-failover master.
    pub const LOST: &str = "lost";
    /// An element present that no client ever attempted.
    pub const UNEXPECTED: &str = "unexpected";
    /// An add that failed but is present in the final read.
    pub const FAILED_BUT_VISIBLE: &str = "failed-but-visible";
    /// A replica whose final read differs from the master's after convergence.
    pub const DIVERGENT: &str = "divergent";
    /// A read that returned a value superseded before it was invoked.
    pub const STALE_READ: &str = "stale-read";
    /// A process read a version older than one it wrote and saw acknowledged.
    pub const READ_YOUR_WRITES: &str = "read-your-writes";
    /// A process read a version older than one it read before.
    pub const MONOTONIC_READS: &str = "monotonic-reads";
    /// A lost write that WAIT reported as acknowledged by enough replicas.
    pub const WAIT_DURABLE_LOST: &str = "wait-durable-lost";
    /// A lost write that WAITAOF reported as fsynced by enough replicas.
    pub const WAITAOF_DURABLE_LOST: &str = "waitaof-durable-lost";
    /// A counter read outside the bounds the increments allow.
    pub const COUNTER_OUT_OF_BOUNDS: &str = "counter-out-of-bounds";
    /// A register history with no linearization.
    pub const NONLINEARIZABLE: &str = "nonlinearizable";
    /// Two nodes acknowledged writes as master at once.
    pub const SPLIT_BRAIN: &str = "split-brain";
}

/// Statistic keys that rules, tables and suites read.
pub mod stat {
    /// lost-writes / wait: adds attempted.
    pub const ATTEMPTED: &str = "attempted";
    /// lost-writes / wait: adds acknowledged `ok`.
    pub const ACKNOWLEDGED: &str = "acknowledged";
    /// lost-writes / wait: acknowledged adds missing from the final read.
    pub const LOST: &str = "lost";
    /// lost-writes: `info` adds present in the final read.
    pub const RECOVERED: &str = "recovered";
    /// lost-writes: elements present that were never attempted.
    pub const UNEXPECTED: &str = "unexpected";
    /// lost-writes: over lost writes charged to a fault, how long before that fault each was
    /// acknowledged (ms): the largest and the median.
    pub const LOST_AGE_MS_MAX: &str = "lost_age_ms_max";
    pub const LOST_AGE_MS_P50: &str = "lost_age_ms_p50";
    /// lost-writes: the lost write of `lost_age_ms_max`, as a witness object (element, key, ops,
    /// known_ms, fault, fault_op, fault_ms, age_ms).
    pub const LOST_OLDEST: &str = "lost_oldest";
    /// lost-writes: lost writes no fault can be charged with, and the first of them.
    pub const LOST_WITHOUT_FAULT: &str = "lost_without_fault";
    pub const LOST_WITHOUT_FAULT_FIRST: &str = "lost_without_fault_first";
    /// lost-writes: visibility latency, 99th percentile (ms).
    pub const VISIBILITY_MS_P99: &str = "visibility_ms_p99";
    /// stale-reads / session: reads checked.
    pub const READS: &str = "reads";
    /// stale-reads: reads that were stale.
    pub const STALE: &str = "stale";
    /// stale-reads: stale / reads.
    pub const STALE_FRACTION: &str = "stale_fraction";
    /// stale-reads: staleness quantiles over stale reads (ms).
    pub const STALENESS_MS_P50: &str = "staleness_ms_p50";
    pub const STALENESS_MS_P99: &str = "staleness_ms_p99";
    pub const STALENESS_MS_MAX: &str = "staleness_ms_max";
    /// stale-reads: the same statistics per node.
    pub const PER_NODE: &str = "per_node";
    /// wait: lost writes by WAIT's acknowledged replica count.
    pub const LOST_BY_ACKED: &str = "lost_by_acked";
    /// wait: lost writes by WAITAOF's (local, replicas) acknowledgement.
    pub const LOST_BY_AOF_ACKED: &str = "lost_by_aof_acked";
    /// wait: lost writes at or above the WAIT threshold.
    pub const WAIT_DURABLE_LOST: &str = "wait_durable_lost";
    /// counter: reads outside the bounds.
    pub const OUT_OF_BOUNDS: &str = "out_of_bounds";
    /// linearizable: keys with no linearization.
    pub const KEYS_NONLINEARIZABLE: &str = "keys_nonlinearizable";
    /// txn-cycles: consistency models the anomalies rule out.
    pub const MODELS_RULED_OUT: &str = "models_ruled_out";
    /// split-brain: total time two masters acknowledged writes at once (ms).
    pub const OVERLAP_MS_TOTAL: &str = "overlap_ms_total";
    /// availability: acknowledged operations per second.
    pub const THROUGHPUT_OK_PER_S: &str = "throughput_ok_per_s";
    /// availability: how many keys the client operations used (bounded keys move on).
    pub const KEYS: &str = "keys";
    /// availability: windows without a successful operation.
    pub const UNAVAILABILITY: &str = "unavailability";
    /// availability: the longest failover (ms).
    pub const FAILOVER_MS_MAX: &str = "failover_ms_max";
}
