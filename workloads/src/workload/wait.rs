//! The wait workload: the set workload with `WAIT numreplicas timeout` on the same connection
//! after each add. WAIT's reply (how many replicas acknowledged) goes into the completion's
//! `wait.acked`, and the wait checker groups lost writes by it: a write WAIT called durable on
//! N replicas and then lost is what `--expect wait-durable=N` forbids.

use super::{key_of, set, unsupported, BoxFuture, Defaults, Workload};
use crate::client::{Attempt, Connection, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;

use crate::outcome::Failure;
use crate::reply::as_count;
use redline_checkers::history::WaitInfo;
use redline_checkers::{Function, Op, WorkloadKind};

/// `--workload wait`.
#[derive(Debug, Clone, Copy)]
pub struct Wait;

impl Workload for Wait {
    fn name(&self) -> &'static str {
        "wait"
    }

    fn model(&self) -> WorkloadKind {
        WorkloadKind::Wait
    }

    fn defaults(&self) -> Defaults {
        set::DEFAULTS
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        let mut op = set::generate(slot, cfg);
        if op.f == Function::Add {
            op.wait = Some(WaitInfo {
                replicas: cfg.wait_replicas,
                timeout_ms: cfg.wait_timeout_ms,
                acked: None,
            });
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
                Function::Read => set::read(conn, key, attempt).await,
                Function::Add => {
                    set::add(conn, key, invoke, attempt).await?;
                    let mut done = Done::default();
                    // An add without WAIT parameters (hand-written) is a plain add.
                    if let Some(wait) = &invoke.wait {
                        let cmd = redis::cmd("WAIT")
                            .arg(wait.replicas)
                            .arg(wait.timeout_ms)
                            .clone();
                        let reply = conn.send(&cmd, attempt).await?;
                        done.wait_acked = Some(as_count(&reply, "WAIT")?);
                    }
                    Ok(done)
                }
                _ => Err(unsupported(self, invoke)),
            }
        })
    }

    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        set::final_reads(cfg)
    }
}
