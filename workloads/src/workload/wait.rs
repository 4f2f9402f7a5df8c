//! The wait workload: the set workload with `WAIT numreplicas timeout` on the same connection
//! after each add. WAIT's reply (how many replicas acknowledged) goes into the completion's
//! `wait.acked`, and the wait checker groups lost writes by it: a write WAIT called durable on
//! N replicas and then lost is what `--expect wait-durable=N` forbids.

use super::{set, unsupported, About, Execution, Workload};
use crate::client::{Call, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;

use crate::reply::as_count;
use redline_checkers::history::WaitInfo;
use redline_checkers::{Function, Op, WorkloadKind};

/// `--workload wait`.
#[derive(Debug, Clone, Copy)]
pub struct Wait;

/// What the wait workload is.
pub const ABOUT: About = About {
    name: "wait",
    model: WorkloadKind::Wait,
    defaults: set::DEFAULTS,
    needs: &[],
};

impl Workload for Wait {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        let mut op = set::generate(slot, cfg);
        if op.f == Function::Add {
            op.wait = Some(Box::new(WaitInfo {
                replicas: cfg.wait_replicas,
                timeout_ms: cfg.wait_timeout_ms,
                acked: None,
            }));
        }
        op
    }

    fn execute<'a>(&'a self, mut call: Call<'a>) -> Execution<'a> {
        Box::pin(async move {
            let key = call.key()?;
            match call.invoke.f {
                Function::Read => set::read(&mut call, key).await,
                Function::Add => {
                    set::add(&mut call, key).await?;
                    // An add without WAIT parameters (hand-written) is a plain add.
                    let Some(wait) = &call.invoke.wait else {
                        return Ok(Done::default());
                    };
                    let cmd = redis::cmd("WAIT")
                        .arg(wait.replicas)
                        .arg(wait.timeout_ms)
                        .clone();
                    let reply = call.send(&cmd).await?;
                    Ok(Done {
                        wait_acked: Some(as_count(&reply, "WAIT")?),
                        ..Done::default()
                    })
                }
                _ => Err(unsupported(self, &call)),
            }
        })
    }

    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        set::final_reads(cfg)
    }
}
