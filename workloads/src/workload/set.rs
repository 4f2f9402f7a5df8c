//! The set workload: each add puts a unique element into a Redis set (`SADD key v`, on the
//! master); a read is `SMEMBERS key` (per `--read-from`). Its final reads return each whole
//! set, and the lost-writes checker looks for acknowledged adds missing from them.
//!
//! The wait and waitaof workloads are this workload with a durability wait after each add;
//! they reuse [`generate`], [`add`] and [`read`].

use super::{
    invocation, numbered_key, read_each, unsupported, About, Defaults, Execution, Workload,
};
use crate::client::{Call, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;
use crate::outcome::Failure;
use crate::reply::{int_arg, set_members};
use rand::Rng;
use redline_checkers::{Function, Op, WorkloadKind};
use serde_json::json;

/// `--workload set`.
#[derive(Debug, Clone, Copy)]
pub struct Set;

/// The Redis key of set `index` when the workload uses `count` sets: `set`, or `set0`, `set1`...
pub fn key(index: usize, count: usize) -> String {
    numbered_key("set", index, count)
}

/// Set reads return the whole set, so their cost grows with the run: one op in ten is a read,
/// enough for the visibility timeline without making the history quadratic. One set: the
/// final read then holds every element.
pub const DEFAULTS: Defaults = Defaults {
    keys: 1,
    read_ratio: 0.1,
};

/// What the set workload is.
pub const ABOUT: About = About {
    name: "set",
    model: WorkloadKind::Set,
    defaults: DEFAULTS,
    needs: &[],
};

impl Workload for Set {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        generate(slot, cfg)
    }

    fn execute<'a>(&'a self, mut call: Call<'a>) -> Execution<'a> {
        Box::pin(async move {
            let key = call.key()?;
            match call.invoke.f {
                Function::Read => read(&mut call, key).await,
                Function::Add => add(&mut call, key).await.map(|()| Done::default()),
                _ => Err(unsupported(self, &call)),
            }
        })
    }

    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        final_reads(cfg)
    }
}

/// A read (`read_ratio`) or an add of a fresh element, on one of the sets.
pub fn generate(slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
    let read = slot.reads(cfg.read_ratio);
    let n = cfg.key_count();
    let mut op = invocation(if read { Function::Read } else { Function::Add });
    let index = slot.rng().gen_range(0..n);
    op.key = Some(cfg.place(key(index, n), index));
    if !read {
        op.value = json!(slot.fresh_value());
    }
    op
}

/// `SMEMBERS key`.
pub async fn read(call: &mut Call<'_>, key: &str) -> Result<Done, Failure> {
    let reply = call.send(redis::cmd("SMEMBERS").arg(key)).await?;
    Ok(Done::read(set_members(&reply)))
}

/// `SADD key v`; on its reply the add is applied, whatever a following wait says.
pub async fn add(call: &mut Call<'_>, key: &str) -> Result<(), Failure> {
    let element = int_arg(call.invoke, &call.invoke.value)?;
    call.send(redis::cmd("SADD").arg(key).arg(element)).await?;
    call.applied();
    Ok(())
}

/// One `read` of each set.
pub fn final_reads(cfg: &WorkloadConfig) -> Vec<Op> {
    let n = cfg.key_count();
    read_each((0..n).map(|i| cfg.place(key(i, n), i)))
}
