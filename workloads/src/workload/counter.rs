//! The counter workload: `INCRBY key 1` on the master, `GET key` per `--read-from`. Jepsen's
//! counter checker bounds every read between the increments certainly applied and those that
//! may have been; the final read must land inside the same bounds.

use super::{invocation, key_of, read_each, unsupported, BoxFuture, Defaults, Workload};
use crate::client::{Attempt, Connection, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;
use crate::outcome::Failure;
use crate::reply::{int_arg, scalar};
use rand::Rng;
use redline_checkers::{Function, Op, WorkloadKind};
use serde_json::json;

/// `--workload counter`.
#[derive(Debug, Clone, Copy)]
pub struct Counter;

/// The Redis key of counter `index` when there are `count`: `counter`, or `counter0`, ...
pub fn key(index: usize, count: usize) -> String {
    if count <= 1 {
        "counter".to_string()
    } else {
        format!("counter{index}")
    }
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn model(&self) -> WorkloadKind {
        WorkloadKind::Counter
    }

    fn defaults(&self) -> Defaults {
        Defaults {
            keys: 1,
            read_ratio: 0.5,
        }
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        let read = slot.reads(cfg.read_ratio);
        let n = cfg.key_count();
        let mut op = invocation(if read { Function::Read } else { Function::Incr });
        op.key = Some(key(slot.rng().gen_range(0..n), n));
        if !read {
            op.value = json!(1);
        }
        op
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
                Function::Read => {
                    let reply = conn.send(redis::cmd("GET").arg(key), attempt).await?;
                    Ok(Done::read(scalar(&reply)))
                }
                Function::Incr => {
                    let delta = int_arg(invoke, &invoke.value)?;
                    conn.send(redis::cmd("INCRBY").arg(key).arg(delta), attempt)
                        .await?;
                    Ok(Done::default())
                }
                _ => Err(unsupported(self, invoke)),
            }
        })
    }

    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        let n = cfg.key_count();
        read_each((0..n).map(|i| key(i, n)))
    }
}
