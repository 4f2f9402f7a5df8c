//! The `f` of a record: what an operation does, as one typed vocabulary shared by the runner,
//! the nemesis, every checker and every report.
//!
//! Client operations (`read`, `write`, `cas`, `add`, `incr`, `txn`), nemesis events (faults
//! and the events that heal them) and observer samples each have a variant; anything else a
//! foreign history carries is kept verbatim in [`Function::Other`], so a Jepsen or Elle history
//! round-trips and a checker that does not know a function can say so instead of guessing.
//!
//! Each fault is paired with the event that lifts it in exactly one place, [`Function::heal`];
//! the availability checker, the report's fault bands and the nemesis all ask it.

use serde::de::{Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The function of an operation record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    // Client operations.
    /// Reads a key (a register's value, a set, a counter's total, a list).
    Read,
    /// Writes a register (SET), or a WAIT/WAITAOF write of the wait workloads.
    Write,
    /// Compare-and-set `[old, new]`.
    Cas,
    /// Adds an element to a set (SADD), or an increment in Jepsen's counter model.
    Add,
    /// Increments a counter (INCRBY).
    Incr,
    /// A transaction of micro-ops (Elle's list-append and rw-register).
    Txn,

    // Nemesis events: faults, and the events that heal them.
    /// SIGKILL of nodes; healed by [`Function::Start`].
    Kill,
    /// A killed node started again on its data dir.
    Start,
    /// SIGSTOP of nodes; healed by [`Function::Resume`].
    Pause,
    /// SIGCONT of paused nodes.
    Resume,
    /// Links cut; healed by [`Function::Heal`].
    Partition,
    /// Every cut link restored.
    Heal,
    /// Latency added to links; healed by [`Function::Undelay`].
    Delay,
    /// Latency removed.
    Undelay,
    /// A node's data lost its unsynced writes along with the process; healed by `Start`.
    PowerLoss,
    /// Manual failover by the harness (REPLICAOF NO ONE on a replica, repoint the rest).
    Promote,
    /// An operator failover (SENTINEL FAILOVER, FAILOVER, CLUSTER FAILOVER).
    Failover,
    /// Slots moved between shards.
    Migrate,
    /// The runner lifting every fault after the workload.
    HealAll,

    // Observer samples and events.
    /// An `INFO replication` / `INFO persistence` sample of one node.
    Replication,
    /// The topology the clients see (master, replicas, Sentinels).
    Topology,
    /// A Sentinel event (`+switch-master`, `+sdown`, ...).
    Sentinel,
    /// Replication convergence after healing.
    Converge,

    /// Any other function, as the history spelled it. A thin box keeps `Function` at 16 bytes:
    /// every record has one.
    #[allow(clippy::box_collection)]
    Other(Box<String>),
}

/// Every named variant with its spelling in histories: the one table that both
/// [`Function::as_str`] and [`Function::parse`] are generated from.
macro_rules! spellings {
    ($($variant:ident => $name:literal,)*) => {
        /// Every named variant, for tests and help texts.
        pub const NAMED: &[Function] = &[$(Function::$variant,)*];

        impl Function {
            /// The spelling in a history.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Function::$variant => $name,)*
                    Function::Other(s) => s.as_str(),
                }
            }

            /// Reads a spelling; unknown names become [`Function::Other`]. A leading `:` (a
            /// Clojure keyword written as a string) is dropped.
            pub fn parse(text: &str) -> Function {
                let name = text.strip_prefix(':').unwrap_or(text);
                match name {
                    $($name => Function::$variant,)*
                    other => Function::Other(Box::new(other.to_string())),
                }
            }
        }
    };
}

spellings! {
    Read => "read",
    Write => "write",
    Cas => "cas",
    Add => "add",
    Incr => "incr",
    Txn => "txn",
    Kill => "kill",
    Start => "start",
    Pause => "pause",
    Resume => "resume",
    Partition => "partition",
    Heal => "heal",
    Delay => "delay",
    Undelay => "undelay",
    PowerLoss => "power-loss",
    Promote => "promote",
    Failover => "failover",
    Migrate => "migrate",
    HealAll => "heal-all",
    Replication => "replication",
    Topology => "topology",
    Sentinel => "sentinel",
    Converge => "converge",
}

impl Function {
    /// A fault that stays in force until another event lifts it, or changes who is master.
    pub fn is_fault(&self) -> bool {
        self.heal().is_some() || self.changes_master()
    }

    /// The event that lifts this fault, for faults that last (kill, pause, partition, delay,
    /// power loss). The one place where faults and heals are paired.
    pub fn heal(&self) -> Option<Function> {
        match self {
            Function::Kill | Function::PowerLoss => Some(Function::Start),
            Function::Pause => Some(Function::Resume),
            Function::Partition => Some(Function::Heal),
            Function::Delay => Some(Function::Undelay),
            _ => None,
        }
    }

    /// The faults this event lifts (the inverse of [`Function::heal`]).
    pub fn heals(&self) -> &'static [Function] {
        match self {
            Function::Start => &[Function::Kill, Function::PowerLoss],
            Function::Resume => &[Function::Pause],
            Function::Heal => &[Function::Partition],
            Function::Undelay => &[Function::Delay],
            _ => &[],
        }
    }

    /// A fault that moves mastership on purpose (no heal: the new master stays).
    pub fn changes_master(&self) -> bool {
        matches!(
            self,
            Function::Promote | Function::Failover | Function::Migrate
        )
    }

    /// A client operation that may change the data (everything but a read).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Function::Write | Function::Cas | Function::Add | Function::Incr | Function::Txn
        )
    }
}

impl Function {
    /// A record that named no function (Elle's transactions carry none).
    pub fn is_missing(&self) -> bool {
        matches!(self, Function::Other(s) if s.is_empty())
    }
}

impl Default for Function {
    /// Elle-format records carry no `f`; the reader decides what they are.
    fn default() -> Self {
        Function::Other(Box::default())
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Function {
    fn from(text: &str) -> Function {
        Function::parse(text)
    }
}

impl PartialEq<str> for Function {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Function {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Function {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Function {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FunctionVisitor;
        impl Visitor<'_> for FunctionVisitor {
            type Value = Function;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a function name such as \"read\" or \"kill\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Function, E> {
                Ok(Function::parse(v))
            }
        }
        d.deserialize_str(FunctionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_unknown_names_are_kept() {
        for f in NAMED {
            assert_eq!(Function::parse(f.as_str()), *f);
            assert!(!f.as_str().is_empty());
        }
        assert_eq!(
            Function::parse("bank-transfer"),
            Function::Other(Box::new("bank-transfer".into()))
        );
        assert_eq!(Function::parse(":read"), Function::Read);
        assert_eq!(Function::Other(Box::new("x".into())).as_str(), "x");
    }

    #[test]
    fn each_lasting_fault_has_one_heal_and_the_heal_knows_it() {
        for f in NAMED {
            if let Some(h) = f.heal() {
                assert!(
                    h.heals().contains(f),
                    "{f} is healed by {h}, which does not say so"
                );
            }
            for fault in f.heals() {
                assert_eq!(fault.heal().as_ref(), Some(f));
            }
        }
        assert!(Function::Promote.is_fault() && Function::Promote.heal().is_none());
        assert!(!Function::Read.is_fault());
    }

    #[test]
    fn serialises_as_its_spelling() {
        let json = serde_json::to_string(&Function::HealAll).unwrap();
        assert_eq!(json, "\"heal-all\"");
        let back: Function = serde_json::from_str("\"power-loss\"").unwrap();
        assert_eq!(back, Function::PowerLoss);
    }
}
