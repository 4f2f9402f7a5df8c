//! The set workload: each add puts a unique element into a Redis set (`SADD key v`, on the
//! master); a read is `SMEMBERS key` (per `--read-from`). Its final reads return each whole
//! set, and the lost-writes checker looks for acknowledged adds missing from them.
//!
//! A read returns the whole set, so no set grows for the whole run: `--keys` sets are in use at
//! a time and each is retired after `--set-size` elements (bounded keys, [`crate::keys`]);
//! reads go to the sets in use, and the final reads read every set the run used.
//!
//! The wait and waitaof workloads are this workload with a durability wait after each add;
//! they reuse [`generate`], [`add`] and [`read`].

use super::{invocation, read_each, unsupported, About, Defaults, Execution, Workload};
use crate::client::{Call, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;
use crate::keys::rotated_key;
use crate::outcome::Failure;
use crate::reply::{int_arg, set_members};
use redline_checkers::{Function, Op, WorkloadKind};
use serde_json::json;

/// `--workload set`.
#[derive(Debug, Clone, Copy)]
pub struct Set;

/// The Redis key of set number `n` when `keys` sets are in use at a time: `set`, `set1`,
/// `set2`... for one; `set0`, `set1`... for several.
pub fn key(n: usize, keys: usize) -> String {
    rotated_key("set", n, keys)
}

/// One set in use at a time, a hundred elements each: a read returns at most a hundred
/// elements whatever the run's length. One op in ten is a read, enough for the visibility
/// timeline while most of the history is adds.
pub const DEFAULTS: Defaults = Defaults {
    keys: 1,
    read_ratio: 0.1,
    set_size: Some(100),
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

/// A read (`read_ratio`) of one of the slot's sets in use, or an add of a fresh element to
/// the set its next element goes to.
pub fn generate(slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
    let keys = cfg.key_count();
    if slot.reads(cfg.read_ratio) {
        let index = slot.key_in_use(cfg);
        let mut op = invocation(Function::Read);
        op.key = Some(cfg.place(key(index, keys), index).into());
        return op;
    }
    let index = slot.element_key(cfg);
    let mut op = invocation(Function::Add);
    op.key = Some(cfg.place(key(index, keys), index).into());
    op.value = json!(slot.fresh_value());
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

/// One `read` of each set the run used.
pub fn final_reads(cfg: &WorkloadConfig) -> Vec<Op> {
    let keys = cfg.key_count();
    read_each((0..cfg.keys_to_read()).map(|i| cfg.place(key(i, keys), i)))
}
