//! A workload, whole: what it asks next, how an ask becomes Redis commands, what it reads back
//! at the end, which history model it writes (and so which checkers judge it), what the server
//! must support, and its defaults. One module per workload implements [`Workload`]; [`ALL`]
//! registers them.
//!
//! Adding a workload whose histories follow an existing model (say, a set kept in a sorted
//! set, judged by lost-writes) is one file here and one line in [`ALL`]. A workload with a new
//! history model also needs that model in `redline-checkers` (a [`WorkloadKind`] and its
//! default checkers), because the check side must judge stored histories without this crate.
//!
//! - [`set`]: `SADD` of unique elements, `SMEMBERS` reads (lost-writes).
//! - [`register`]: `SET`/`GET` of unique values, optional compare-and-set in Lua (stale-reads,
//!   session, linearizable).
//! - [`counter`]: `INCRBY`/`GET` (counter bounds).
//! - [`wait`]: the set workload with `WAIT` after each add (lost writes by ack count).
//! - [`waitaof`]: the set workload with `WAITAOF` after each add.
//! - [`list_append`]: `MULTI`/`EXEC` of `RPUSH`/`LRANGE` (Elle's list-append, txn-cycles).

pub mod counter;
pub mod list_append;
pub mod register;
pub mod set;
pub mod wait;
pub mod waitaof;

use crate::client::{Call, Done};
use crate::config::WorkloadConfig;
use crate::feature::Feature;
use crate::generator::Slot;
use crate::outcome::{Effect, Failure};
use redline_checkers::{Function, Op, OpType, Process, WorkloadKind};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use thiserror::Error;

/// Every workload `--workload` accepts, in the order help texts list them. Registering a
/// workload is one line here.
pub static ALL: &[&dyn Workload] = &[
    &set::Set,
    &register::Register,
    &counter::Counter,
    &wait::Wait,
    &waitaof::WaitAof,
    &list_append::ListAppend,
];

/// A boxed future: a workload is chosen at run time, so its `execute` is called through
/// `dyn Workload`, which async trait methods cannot be. One allocation per operation is noise
/// beside the network round trip it stands for.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What [`Workload::execute`] returns.
pub type Execution<'a> = BoxFuture<'a, Result<Done, Failure>>;

/// What a workload chooses when the user does not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    /// How many keys it spreads over.
    pub keys: usize,
    /// Fraction of operations (or micro-operations) that are reads.
    pub read_ratio: f64,
    /// Elements (or register writes) per key before moving to a fresh key (`--set-size`, see
    /// [`crate::keys`]); `None` for a workload whose keys never need to move (counter).
    pub set_size: Option<usize>,
}

/// What a workload is, apart from what it does.
#[derive(Debug, Clone, Copy)]
pub struct About {
    /// The name `--workload` takes and `test.json` records.
    pub name: &'static str,
    /// The history model its histories follow; the checkers judge it by this
    /// ([`redline_checkers::CheckerName::defaults_for`]).
    pub model: WorkloadKind,
    /// Key count and read ratio when the user gives none.
    pub defaults: Defaults,
    /// Server commands the workload cannot run without; a server lacking one is refused
    /// before the run starts, naming the workload.
    pub needs: &'static [Feature],
}

/// One workload. Implementations are unit structs: every choice a run makes is in the
/// [`WorkloadConfig`] they are handed, so one value serves every run.
pub trait Workload: Send + Sync + fmt::Debug {
    /// Its name, history model, defaults and needs.
    fn about(&self) -> &'static About;

    /// [`About::name`].
    fn name(&self) -> &'static str {
        self.about().name
    }

    /// [`About::model`].
    fn model(&self) -> WorkloadKind {
        self.about().model
    }

    /// [`About::defaults`].
    fn defaults(&self) -> Defaults {
        self.about().defaults
    }

    /// [`About::needs`].
    fn needs(&self) -> &'static [Feature] {
        self.about().needs
    }

    /// The next invocation of the slot's current process: `f`, `key`, `value` and any WAIT
    /// parameters; index, time and node are left for the harness and the client.
    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op;

    /// Whether `op` may change data: reads are routed per `--read-from` and a failed read is
    /// always `fail`; anything else goes to the master and is `fail` only when provably
    /// unapplied (see [`crate::outcome`]).
    fn effect(&self, op: &Op) -> Effect {
        read_or_write(op)
    }

    /// The Redis key that decides where `op` goes in a cluster (its slot): the op's key; a
    /// workload whose ops name their keys otherwise (list-append's micro-operations) says.
    fn routing_key(&self, op: &Op, _cfg: &WorkloadConfig) -> Option<String> {
        op.key.as_deref().map(str::to_string)
    }

    /// Sends the call's invocation as Redis commands and interprets the replies. Call
    /// [`Call::applied`] once a write is acknowledged and only a following wait is outstanding;
    /// the client bounds the whole call by the operation timeout.
    fn execute<'a>(&'a self, call: Call<'a>) -> Execution<'a>;

    /// The final reads after healing, as invocations (process, node and `final` are set by
    /// [`crate::final_reads`]): everything the workload may have written.
    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op>;
}

/// A `--workload` name that is none of [`ALL`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown workload {name:?} (expected one of {})", names().join(", "))]
pub struct UnknownWorkload {
    pub name: String,
}

/// The workload called `name`.
pub fn by_name(name: &str) -> Result<&'static dyn Workload, UnknownWorkload> {
    ALL.iter()
        .copied()
        .find(|w| w.name() == name)
        .ok_or_else(|| UnknownWorkload {
            name: name.to_string(),
        })
}

/// The names of every workload, in [`ALL`]'s order.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|w| w.name()).collect()
}

/// A bare invocation of `f` (process 0, no key, null value), for [`Workload::generate`] and
/// [`Workload::final_reads`] to fill in.
pub fn invocation(f: Function) -> Op {
    Op::new(0, 0, Process::Client(0), OpType::Invoke, f)
}

/// The Redis key of key `index` of `count` named `base`: `base` alone for one key, else
/// `base0`, `base1`, ...
pub fn numbered_key(base: &str, index: usize, count: usize) -> String {
    if count <= 1 {
        base.to_string()
    } else {
        format!("{base}{index}")
    }
}

/// One `read` per key: the final reads of a workload whose keys each hold one value.
pub fn read_each(keys: impl IntoIterator<Item = String>) -> Vec<Op> {
    keys.into_iter()
        .map(|key| Op {
            key: Some(key.into()),
            ..invocation(Function::Read)
        })
        .collect()
}

/// [`Workload::effect`] by `f` alone: a `read` reads, anything else may write.
pub fn read_or_write(op: &Op) -> Effect {
    if op.f == Function::Read {
        Effect::Read
    } else {
        Effect::Write
    }
}

/// The refusal for an `f` this workload does not perform (a foreign or hand-written op).
pub(crate) fn unsupported(workload: &dyn Workload, call: &Call<'_>) -> Failure {
    Failure::NotSent(format!(
        "the {} workload has no operation {:?}",
        workload.name(),
        call.invoke.f.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let names = names();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        for w in ALL {
            assert_eq!(by_name(w.name()).map(|w| w.name()), Ok(w.name()));
        }
        let err = by_name("sets").unwrap_err().to_string();
        assert!(err.contains("unknown workload \"sets\""), "{err}");
        assert!(err.contains("list-append"), "{err}");
    }

    #[test]
    fn every_live_model_has_a_workload_of_its_name() {
        for w in ALL {
            assert_eq!(w.model().as_str(), w.name(), "{w:?}");
        }
    }
}
