//! The waitaof workload: the set workload with `WAITAOF numlocal numreplicas timeout` after
//! each add (Redis 7.2+, every Valkey). Its reply, (local fsynced, replicas fsynced), goes into
//! the completion's `waitaof.acked_local` / `acked_replicas`.
//!
//! The server must know WAITAOF ([`Feature::Waitaof`], refused up front). A connection also
//! asks once (`COMMAND INFO WAITAOF`) before its first add, so a server that lacks it refuses
//! the add *before* the `SADD`: failing after it would call an applied add `fail`.

use super::{set, unsupported, About, Execution, Workload};
use crate::client::{Call, Connection, Done};
use crate::config::WorkloadConfig;
use crate::feature::Feature;
use crate::generator::Slot;

use crate::outcome::Failure;
use crate::reply::{as_count, unexpected};
use redis::Value;
use redline_checkers::history::WaitAofInfo;
use redline_checkers::{Function, Op, WorkloadKind};

/// `--workload waitaof`.
#[derive(Debug, Clone, Copy)]
pub struct WaitAof;

/// What the waitaof workload is.
pub const ABOUT: About = About {
    name: "waitaof",
    model: WorkloadKind::WaitAof,
    defaults: set::DEFAULTS,
    needs: &[Feature::Waitaof],
};

impl Workload for WaitAof {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        let mut op = set::generate(slot, cfg);
        if op.f == Function::Add {
            op.waitaof = Some(Box::new(WaitAofInfo {
                local: cfg.waitaof_local,
                replicas: cfg.waitaof_replicas,
                timeout_ms: cfg.wait_timeout_ms,
                acked_local: None,
                acked_replicas: None,
            }));
        }
        op
    }

    fn execute<'a>(&'a self, mut call: Call<'a>) -> Execution<'a> {
        Box::pin(async move {
            let key = call.key()?;
            match call.invoke.f {
                Function::Read => set::read(&mut call, key).await,
                Function::Add => add_and_wait(&mut call, key).await,
                _ => Err(unsupported(self, &call)),
            }
        })
    }

    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        set::final_reads(cfg)
    }
}

/// SADD, then WAITAOF on the same connection when the invocation carries its parameters.
async fn add_and_wait(call: &mut Call<'_>, key: &str) -> Result<Done, Failure> {
    let Some(w) = &call.invoke.waitaof else {
        set::add(call, key).await?;
        return Ok(Done::default());
    };
    if !waitaof_supported(call.conn).await? {
        return Err(Failure::Rejected {
            code: "ERR".into(),
            message: "unknown command 'WAITAOF' (COMMAND INFO, asked before the add)".into(),
        });
    }
    set::add(call, key).await?;
    let cmd = redis::cmd("WAITAOF")
        .arg(w.local)
        .arg(w.replicas)
        .arg(w.timeout_ms)
        .clone();
    let reply = call.send(&cmd).await?;
    let acked = match &reply {
        Value::Array(items) if items.len() == 2 => (
            as_count(&items[0], "WAITAOF")?,
            as_count(&items[1], "WAITAOF")?,
        ),
        other => return Err(unexpected("WAITAOF", other)),
    };
    Ok(Done {
        waitaof_acked: Some(acked),
        ..Done::default()
    })
}

/// Asks the node once per connection whether it knows WAITAOF.
async fn waitaof_supported(conn: &mut Connection) -> Result<bool, Failure> {
    if let Some(known) = conn.waitaof {
        return Ok(known);
    }
    let reply = conn
        .probe(redis::cmd("COMMAND").arg("INFO").arg("WAITAOF"))
        .await?;
    let known =
        matches!(&reply, Value::Array(items) if items.first().is_some_and(|i| *i != Value::Nil));
    conn.waitaof = Some(known);
    Ok(known)
}
