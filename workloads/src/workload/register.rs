//! The register workload: unique values written to registers `r0..` with `SET` (on the
//! master), read with `GET` (per `--read-from`), and with `--cas` compare-and-set from the
//! slot's last written value in a Lua script on the master. Its histories are judged for stale
//! reads, session guarantees, and (reads on the master) linearizability.
//!
//! A register holds one value however long the run, so its ops cost the server the same at
//! any length; what grows is each key's history, and the linearizability search of a key
//! costs more the more ops it has (a 10 s run on four keys once ran out of its memory budget).
//! So registers are bounded keys too ([`crate::keys`]): `--keys` registers in use at a time,
//! each retired after `--set-size` writes (default 1,000), reads on the registers in use. The
//! search is per key, so a run of any length is then many small searches.

use super::{invocation, read_each, unsupported, About, Defaults, Execution, Workload};
use crate::client::{Call, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;
use crate::outcome::Failure;
use crate::reply::{int_arg, scalar, unexpected};
use rand::Rng;
use redis::Value;
use redline_checkers::{Function, Op, WorkloadKind};
use serde_json::json;

/// `--workload register`.
#[derive(Debug, Clone, Copy)]
pub struct Register;

/// Compare-and-set on the master. `ARGV[1]` is `nil` when the expected value is "absent",
/// else `val` with the expected value in `ARGV[2]`; `ARGV[3]` is the new value. Returns 1 when
/// it wrote, 0 when the compare failed. The only write is the last call, so an error reply
/// means nothing was written (see [`crate::outcome`]).
pub const CAS_SCRIPT: &str = r#"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == 'nil' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"#;

/// The Redis key of register `index`: `r0`, `r1`, ...
pub fn key(index: usize) -> String {
    format!("r{index}")
}

/// What the register workload is.
pub const ABOUT: About = About {
    name: "register",
    model: WorkloadKind::Register,
    // Four registers: enough for independent keys, few enough that reads meet writes.
    defaults: Defaults {
        keys: 4,
        read_ratio: 0.5,
        set_size: Some(1_000),
    },
    needs: &[],
};

impl Workload for Register {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    /// A read, a write of a fresh value, or (with `cas`) a cas from this slot's last written
    /// value (null if none) to a fresh one. Writes and cas share the non-read half evenly. The
    /// `old` of a cas is a guess: another process may have written since, then the cas fails.
    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        let mut op = invocation(Function::Read);
        if slot.reads(cfg.read_ratio) {
            let index = slot.key_in_use(cfg);
            op.key = Some(cfg.place(key(index), index).into());
            return op;
        }
        let index = slot.element_key(cfg);
        op.key = Some(cfg.place(key(index), index).into());
        let cas = cfg.cas && slot.rng().gen_bool(0.5);
        let old = slot.last_written(index);
        let new = slot.fresh_value();
        slot.remember_written(index, new);
        if cas {
            op.f = Function::Cas;
            op.value = json!([old, new]);
        } else {
            op.f = Function::Write;
            op.value = json!(new);
        }
        op
    }

    fn execute<'a>(&'a self, mut call: Call<'a>) -> Execution<'a> {
        Box::pin(async move {
            let (key, invoke) = (call.key()?, call.invoke);
            match invoke.f {
                Function::Read => read(&mut call, key).await,
                Function::Write => {
                    let value = int_arg(invoke, &invoke.value)?;
                    call.send(redis::cmd("SET").arg(key).arg(value)).await?;
                    Ok(Done::default())
                }
                Function::Cas => cas(&mut call, key).await,
                _ => Err(unsupported(self, &call)),
            }
        })
    }

    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        read_each((0..cfg.keys_to_read()).map(|i| cfg.place(key(i), i)))
    }
}

/// `GET key`: the value (an integer when it parses as one), or null when absent.
pub async fn read(call: &mut Call<'_>, key: &str) -> Result<Done, Failure> {
    let reply = call.send(redis::cmd("GET").arg(key)).await?;
    Ok(Done::read(scalar(&reply)))
}

/// Compare-and-set via [`CAS_SCRIPT`]; value `[old, new]`, `old` null for "absent".
async fn cas(call: &mut Call<'_>, key: &str) -> Result<Done, Failure> {
    let invoke = call.invoke;
    let pair = invoke.value.as_array().filter(|p| p.len() == 2);
    let (old, new) = match pair {
        Some(p) => (&p[0], int_arg(invoke, &p[1])?),
        None => {
            return Err(Failure::NotSent(format!(
                "cas value {} is not [old, new]",
                invoke.value
            )))
        }
    };
    let (mode, old) = if old.is_null() {
        ("nil", String::new())
    } else {
        ("val", int_arg(invoke, old)?.to_string())
    };
    let cmd = redis::cmd("EVAL")
        .arg(CAS_SCRIPT)
        .arg(1)
        .arg(key)
        .arg(mode)
        .arg(old)
        .arg(new)
        .clone();
    match call.send(&cmd).await? {
        Value::Int(1) => Ok(Done::default()),
        // The script compared and did not write: a definite, harmless failure.
        Value::Int(0) => Ok(Done {
            mismatch: true,
            ..Done::default()
        }),
        other => Err(unexpected("cas script", &other)),
    }
}
