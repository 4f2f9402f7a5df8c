//! The counter workload: `INCRBY key 1` on the master, `GET key` per `--read-from`. Jepsen's
//! counter checker bounds every read between the increments certainly applied and those that
//! may have been; the final read must land inside the same bounds.
//!
//! A counter is one integer however long the run: its ops cost the same at any length, so its
//! keys are not rotated (`--set-size` does not apply).

use super::{
    invocation, numbered_key, read_each, register, unsupported, About, Defaults, Execution,
    Workload,
};
use crate::client::{Call, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;
use crate::reply::int_arg;
use rand::Rng;
use redline_checkers::{Function, Op, WorkloadKind};
use serde_json::json;

/// `--workload counter`.
#[derive(Debug, Clone, Copy)]
pub struct Counter;

/// The Redis key of counter `index` when there are `count`: `counter`, or `counter0`, ...
pub fn key(index: usize, count: usize) -> String {
    numbered_key("counter", index, count)
}

/// What the counter workload is.
pub const ABOUT: About = About {
    name: "counter",
    model: WorkloadKind::Counter,
    defaults: Defaults {
        keys: 1,
        read_ratio: 0.5,
        set_size: None,
    },
    needs: &[],
};

impl Workload for Counter {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        let read = slot.reads(cfg.read_ratio);
        let n = cfg.key_count();
        let mut op = invocation(if read { Function::Read } else { Function::Incr });
        let index = slot.rng().gen_range(0..n);
        op.key = Some(cfg.place(key(index, n), index).into());
        if !read {
            op.value = json!(1);
        }
        op
    }

    fn execute<'a>(&'a self, mut call: Call<'a>) -> Execution<'a> {
        Box::pin(async move {
            let (key, invoke) = (call.key()?, call.invoke);
            match invoke.f {
                Function::Read => register::read(&mut call, key).await,
                Function::Incr => {
                    let delta = int_arg(invoke, &invoke.value)?;
                    call.send(redis::cmd("INCRBY").arg(key).arg(delta)).await?;
                    Ok(Done::default())
                }
                _ => Err(unsupported(self, &call)),
            }
        })
    }

    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        let n = cfg.key_count();
        read_each((0..n).map(|i| cfg.place(key(i, n), i)))
    }
}
