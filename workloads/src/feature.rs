//! Server commands a test may need that not every server has. A workload declares its own
//! ([`crate::Workload::needs`]); the harness probes the running server for each (never trusting
//! a version string) and refuses a test the server cannot run before any operation is sent.

use std::fmt;

/// One command a part of a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `WAITAOF numlocal numreplicas timeout`.
    Waitaof,
    /// The coordinated `FAILOVER` command.
    Failover,
    /// Valkey's atomic slot migration, `CLUSTER MIGRATESLOTS`.
    AtomicSlotMigration,
    /// Sentinel's `SENTINEL FAILOVER <master> COORDINATED` (Valkey 9): Sentinel runs the
    /// coordinated `FAILOVER` on the master. Probed on a Sentinel, not on a data node.
    SentinelCoordinatedFailover,
}

impl Feature {
    /// The command, as a refusal message names it.
    pub fn command(self) -> &'static str {
        match self {
            Feature::Waitaof => "WAITAOF",
            Feature::Failover => "FAILOVER",
            Feature::AtomicSlotMigration => "CLUSTER|MIGRATESLOTS",
            Feature::SentinelCoordinatedFailover => "SENTINEL FAILOVER <master> COORDINATED",
        }
    }

    /// Where the command came from, for a refusal message (history, not a probe).
    pub fn since(self) -> &'static str {
        match self {
            Feature::Waitaof => "it arrived in Redis 7.2 and is in every Valkey",
            Feature::Failover => "it arrived in Redis 6.2 and is in every Valkey",
            Feature::AtomicSlotMigration => "it arrived in Valkey 9.0; Redis has no such command",
            Feature::SentinelCoordinatedFailover => {
                "Valkey 9.0's Sentinel added COORDINATED; Redis's Sentinel has no such option"
            }
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command())
    }
}
