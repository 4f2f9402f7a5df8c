//! What a workload does: which operations, over how many keys, read from where, with which
//! durability waits and within which time bound.
//!
//! One [`WorkloadConfig`] is shared by the [`Generator`](crate::Generator) (what to ask) and every
//! [`Client`](crate::Client) (how to ask it), so the two can never disagree.

use crate::keys::{KeysUsed, Rotation};
use crate::workload::{self, Workload};
use redline_checkers::WorkloadKind;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Where reads are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// Only to nodes other than the master: the interesting case for stale reads.
    Replicas,
    /// Only to the master: what a linearizability check needs.
    Master,
    /// To any node, master included.
    Any,
}

/// How a client picks among the nodes it may read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaRouting {
    /// Each process keeps one node (`process % candidates`), as an application pinned to a
    /// replica would; session guarantees are then about one replica.
    Sticky,
    /// Each read goes to the next node in turn, so one process sees several replicas and
    /// monotonic-reads violations across replicas become visible.
    RoundRobin,
}

/// Everything a workload needs to know, with [`Default`] values a short local run can use.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Which workload (one of [`workload::ALL`]).
    pub workload: &'static dyn Workload,
    /// Number of keys in use at a time: sets for set/wait/waitaof (1 means the key `set`, then
    /// `set1`, `set2`... as each fills up), registers `r0..`, counters, and list-append lists.
    pub keys: usize,
    /// Elements a set or list (or writes a register) takes before the workload moves to a
    /// fresh key ([`crate::keys`]); `None` for a workload that never moves (counter).
    pub set_size: Option<usize>,
    /// The keys handed out so far: run state, shared by every clone of this configuration (the
    /// generator's, the final reads'), so the final reads read every key the run used.
    pub keys_used: KeysUsed,
    /// Number of concurrent client processes; value uniqueness relies on it (see
    /// [`Generator`](crate::Generator)), so it must match the harness's process count.
    pub concurrency: usize,
    /// Where reads go.
    pub read_from: ReadFrom,
    /// How a process picks among the nodes it may read from.
    pub replica_routing: ReplicaRouting,
    /// Register workload: also issue compare-and-set operations (a Lua script on the master).
    pub cas: bool,
    /// wait workload: `numreplicas` of the `WAIT` after each add.
    pub wait_replicas: u64,
    /// wait/waitaof workloads: the timeout argument of `WAIT`/`WAITAOF`, in milliseconds.
    /// Keep it below `op_timeout`: when the operation's own bound cuts a WAIT short, the add
    /// completes ok (it was acknowledged) but without an ack count.
    pub wait_timeout_ms: u64,
    /// waitaof workload: `numlocal` of `WAITAOF` (1 needs `appendonly yes` on the master).
    pub waitaof_local: u64,
    /// waitaof workload: `numreplicas` of `WAITAOF`.
    pub waitaof_replicas: u64,
    /// list-append: the largest number of micro-operations in one transaction.
    pub max_txn_length: usize,
    /// Upper bound on one operation, from the first connection attempt to the last reply.
    pub op_timeout: Duration,
    /// Fraction of operations (or list-append micro-operations) that are reads, in `[0, 1]`.
    pub read_ratio: f64,
    /// `--topology cluster`: the number of shards keys are spread over; 0 on the standalone
    /// topology (keys are then named as they always were). See [`crate::cluster::keys`].
    pub shards: usize,
}

impl WorkloadConfig {
    /// `workload` with its own defaults (key count, read ratio) and the common ones.
    pub fn new(workload: &'static dyn Workload) -> WorkloadConfig {
        let defaults = workload.defaults();
        WorkloadConfig {
            workload,
            keys: defaults.keys,
            set_size: defaults.set_size,
            keys_used: KeysUsed::default(),
            read_ratio: defaults.read_ratio,
            concurrency: 5,
            read_from: ReadFrom::Replicas,
            replica_routing: ReplicaRouting::Sticky,
            cas: false,
            wait_replicas: 1,
            wait_timeout_ms: 500,
            waitaof_local: 1,
            waitaof_replicas: 1,
            max_txn_length: 4,
            op_timeout: Duration::from_secs(2),
            shards: 0,
        }
    }

    /// The live workload that writes histories of model `kind`, named like it, with its
    /// defaults. Every model but the check-only ones has one (a registry test says so); asking
    /// for a check-only model is a programming error.
    pub fn for_kind(kind: WorkloadKind) -> WorkloadConfig {
        match workload::by_name(kind.as_str()) {
            Ok(w) => WorkloadConfig::new(w),
            Err(e) => panic!("no live workload writes {kind} histories: {e}"),
        }
    }

    /// `concurrency`, never zero (value uniqueness divides by it).
    pub(crate) fn slots(&self) -> u64 {
        self.concurrency.max(1) as u64
    }

    /// `keys`, never zero.
    pub fn key_count(&self) -> usize {
        self.keys.max(1)
    }

    /// How writes move through bounded keys (without a `set_size`, they never move on).
    pub fn rotation(&self) -> Rotation {
        let size = self.set_size.unwrap_or(usize::MAX);
        Rotation::new(self.key_count(), size, self.concurrency)
    }

    /// How many key numbers the final reads must read: every key handed out, and at least the
    /// `keys` of the first generation (a run that wrote nothing still reads them).
    pub fn keys_to_read(&self) -> usize {
        self.keys_used.count().max(self.key_count())
    }
}

/// The set workload with the defaults.
impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig::new(&workload::set::Set)
    }
}

impl ReadFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadFrom::Replicas => "replicas",
            ReadFrom::Master => "master",
            ReadFrom::Any => "any",
        }
    }
}

impl fmt::Display for ReadFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReadFrom {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "replicas" | "replica" => Ok(ReadFrom::Replicas),
            "master" | "primary" => Ok(ReadFrom::Master),
            "any" => Ok(ReadFrom::Any),
            _ => Err(format!(
                "unknown read target {s:?} (expected replicas, master or any)"
            )),
        }
    }
}

impl ReplicaRouting {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaRouting::Sticky => "sticky",
            ReplicaRouting::RoundRobin => "round-robin",
        }
    }
}

impl fmt::Display for ReplicaRouting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReplicaRouting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sticky" => Ok(ReplicaRouting::Sticky),
            "round-robin" | "roundrobin" | "rr" => Ok(ReplicaRouting::RoundRobin),
            _ => Err(format!(
                "unknown replica routing {s:?} (expected sticky or round-robin)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_and_print_back() {
        for r in [ReadFrom::Replicas, ReadFrom::Master, ReadFrom::Any] {
            assert_eq!(r.to_string().parse::<ReadFrom>(), Ok(r));
        }
        for r in [ReplicaRouting::Sticky, ReplicaRouting::RoundRobin] {
            assert_eq!(r.to_string().parse::<ReplicaRouting>(), Ok(r));
        }
        assert!("nowhere".parse::<ReadFrom>().is_err());
        assert!("random".parse::<ReplicaRouting>().is_err());
    }

    #[test]
    fn per_kind_defaults_pick_key_counts() {
        assert_eq!(WorkloadConfig::for_kind(WorkloadKind::Set).keys, 1);
        assert_eq!(WorkloadConfig::for_kind(WorkloadKind::ListAppend).keys, 8);
        let zero = WorkloadConfig {
            keys: 0,
            concurrency: 0,
            ..WorkloadConfig::default()
        };
        assert_eq!((zero.key_count(), zero.slots()), (1, 1));
    }
}
