//! The set workload: each add puts a unique element into a Redis set (`SADD key v`, on the
//! master); a read is `SMEMBERS key` (per `--read-from`). Its final reads return each whole
//! set, and the lost-writes checker looks for acknowledged adds missing from them.
//!
//! The wait and waitaof workloads are this workload with a durability wait after each add;
//! they reuse [`generate`], [`add`] and [`read`].

use super::{invocation, key_of, read_each, unsupported, BoxFuture, Defaults, Workload};
use crate::client::{Attempt, Connection, Done};
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
    if count <= 1 {
        "set".to_string()
    } else {
        format!("set{index}")
    }
}

/// Set reads return the whole set, so their cost grows with the run: one op in ten is a read,
/// enough for the visibility timeline without making the history quadratic. One set: the
/// final read then holds every element.
pub const DEFAULTS: Defaults = Defaults {
    keys: 1,
    read_ratio: 0.1,
};

impl Workload for Set {
    fn name(&self) -> &'static str {
        "set"
    }

    fn model(&self) -> WorkloadKind {
        WorkloadKind::Set
    }

    fn defaults(&self) -> Defaults {
        DEFAULTS
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        generate(slot, cfg)
    }

    fn execute<'a>(
        &'a self,
        conn: &'a mut Connection,
        invoke: &'a Op,
        attempt: &'a mut Attempt,
    ) -> BoxFuture<'a, Result<Done, Failure>> {
        Box::pin(async move {
            let key = key_of(invoke)?;
            match invoke.f {
                Function::Read => read(conn, key, attempt).await,
                Function::Add => {
                    add(conn, key, invoke, attempt).await?;
                    Ok(Done::default())
                }
                _ => Err(unsupported(self, invoke)),
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
    op.key = Some(key(slot.rng().gen_range(0..n), n));
    if !read {
        op.value = json!(slot.fresh_value());
    }
    op
}

/// `SMEMBERS key`.
pub async fn read(
    conn: &mut Connection,
    key: &str,
    attempt: &mut Attempt,
) -> Result<Done, Failure> {
    let reply = conn.send(redis::cmd("SMEMBERS").arg(key), attempt).await?;
    Ok(Done::read(set_members(&reply)))
}

/// `SADD key v`; on its reply the add is applied (`attempt.applied`), whatever a following
/// wait says.
pub async fn add(
    conn: &mut Connection,
    key: &str,
    invoke: &Op,
    attempt: &mut Attempt,
) -> Result<(), Failure> {
    let element = int_arg(invoke, &invoke.value)?;
    conn.send(redis::cmd("SADD").arg(key).arg(element), attempt)
        .await?;
    attempt.applied = true;
    Ok(())
}

/// One `read` of each set.
pub fn final_reads(cfg: &WorkloadConfig) -> Vec<Op> {
    let n = cfg.key_count();
    read_each((0..n).map(|i| key(i, n)))
}
