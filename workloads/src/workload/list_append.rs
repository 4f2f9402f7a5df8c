//! The list-append workload (Elle's): each operation is a transaction of 1..=`max_txn_length`
//! micro-operations on integer keys, `["append", k, v]` (a fresh, unique v) or `["r", k, nil]`,
//! run as `MULTI`, `RPUSH la:k v` / `LRANGE la:k 0 -1`..., `EXEC` in one pipeline. Reads fill
//! in the list they saw; the txn-cycles checker infers version orders from list prefixes.
//!
//! A read-only transaction changes nothing, so it is routed as a read (`--read-from`) and a
//! failed one is `fail`; a transaction with an append goes to the master.
//!
//! A read returns the whole list, so no list grows for the whole run: `--keys` lists are in use
//! at a time and each is retired after `--set-size` elements (32 by default, Elle's
//! `max-writes-per-key`; see [`crate::keys`]). Reads go to the lists in use; the final reads
//! read every list the run used, [`FINAL_READ_KEYS`] lists per transaction.
//!
//! In a Redis Cluster a transaction must stay in one slot, so the lists are grouped (list `k`
//! in group `k % shards`), a group's lists share a hash tag (`la:k{tag}`, see
//! [`crate::cluster::keys`]), and each transaction's micro-operations use the lists of one
//! group. Elle then finds cycles within groups; transactions never span two. There the
//! `--keys` lists stay in use for the whole run (no retirement yet: a retired list's
//! successor would have to stay in the group).

use super::{invocation, read_or_write, unsupported, About, Defaults, Execution, Workload};
use crate::client::{server_error_to_failure, Call, Done};
use crate::config::WorkloadConfig;
use crate::generator::Slot;
use crate::outcome::{Effect, Failure};
use crate::reply::list_elements;
use rand::Rng;
use redis::{Cmd, Value};
use redline_checkers::{Function, Op, WorkloadKind};
use serde_json::{json, Value as Json};

/// `--workload list-append`.
#[derive(Debug, Clone, Copy)]
pub struct ListAppend;

/// The Redis key of list-append key `k` (histories use the integer, Elle style): `la:k`.
pub fn key(k: u64) -> String {
    format!("la:{k}")
}

/// The most lists one final read transaction reads: a run of hours uses many lists, and one
/// `MULTI`/`EXEC` of them all would be one huge reply.
pub const FINAL_READ_KEYS: usize = 256;

/// What the list-append workload is.
pub const ABOUT: About = About {
    name: "list-append",
    model: WorkloadKind::ListAppend,
    // Eight lists: Elle needs several keys to find cycles.
    defaults: Defaults {
        keys: 8,
        read_ratio: 0.5,
        set_size: Some(32),
    },
    needs: &[],
};

impl Workload for ListAppend {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn generate(&self, slot: &mut Slot, cfg: &WorkloadConfig) -> Op {
        let len = slot.rng().gen_range(1..=cfg.max_txn_length.max(1));
        let mut micro_ops = Vec::new();
        // The lists of one group: g, g + groups, ... (every list on a standalone topology,
        // which draws no group, so its seeds give the ops they always gave).
        let groups = groups(cfg);
        let group = match groups {
            1 => 0,
            _ => slot.rng().gen_range(0..groups),
        };
        let in_group = (cfg.key_count() - group).div_ceil(groups);
        for _ in 0..len {
            if groups > 1 {
                // A cluster: the group's lists, for the whole run (see the module doc).
                let k = group + groups * slot.rng().gen_range(0..in_group);
                cfg.keys_used.note(k);
                micro_ops.push(match slot.reads(cfg.read_ratio) {
                    true => json!(["r", k, null]),
                    false => json!(["append", k, slot.fresh_value()]),
                });
            } else if slot.reads(cfg.read_ratio) {
                micro_ops.push(json!(["r", slot.key_in_use(cfg), null]));
            } else {
                let k = slot.element_key(cfg);
                micro_ops.push(json!(["append", k, slot.fresh_value()]));
            }
        }
        Op {
            value: Json::Array(micro_ops),
            ..invocation(Function::Txn)
        }
    }

    fn effect(&self, op: &Op) -> Effect {
        let read_only = op.f == Function::Txn
            && op.value.as_array().is_some_and(|m| {
                m.iter()
                    .all(|m| m.get(0).and_then(Json::as_str) == Some("r"))
            });
        if read_only {
            Effect::Read
        } else {
            read_or_write(op)
        }
    }

    /// The first micro-operation's list: every list of a transaction shares its slot.
    fn routing_key(&self, op: &Op, cfg: &WorkloadConfig) -> Option<String> {
        let first = op.value.as_array()?.first()?;
        list_name(first.get(1)?, cfg)
    }

    fn execute<'a>(&'a self, mut call: Call<'a>) -> Execution<'a> {
        Box::pin(async move {
            match call.invoke.f {
                Function::Txn => transaction(&mut call).await,
                _ => Err(unsupported(self, &call)),
            }
        })
    }

    /// Transactions reading every list the run used, [`FINAL_READ_KEYS`] at a time, each
    /// within one group (in a cluster, one slot).
    fn final_reads(&self, cfg: &WorkloadConfig) -> Vec<Op> {
        let groups = groups(cfg);
        (0..groups)
            .flat_map(|g| {
                let keys: Vec<usize> = (0..cfg.keys_to_read())
                    .filter(|k| k % groups == g)
                    .collect();
                keys.chunks(FINAL_READ_KEYS)
                    .map(|chunk| Op {
                        value: chunk.iter().map(|k| json!(["r", k, null])).collect(),
                        ..invocation(Function::Txn)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// How many groups of lists transactions keep to: one on a standalone topology, one per shard
/// (at most one per list) in a cluster.
fn groups(cfg: &WorkloadConfig) -> usize {
    match cfg.is_cluster() {
        true => cfg.shards.min(cfg.key_count()).max(1),
        false => 1,
    }
}

/// The Redis key of list `k` (an integer, or a foreign history's string).
fn list_name(k: &Json, cfg: &WorkloadConfig) -> Option<String> {
    match k {
        Json::Number(n) => {
            let k = n.as_u64()?;
            Some(cfg.place(key(k), (k % groups(cfg) as u64) as usize))
        }
        Json::String(s) => Some(format!("la:{s}")),
        _ => None,
    }
}

/// A transaction as MULTI/EXEC in one pipeline; reads are filled in from EXEC's replies.
async fn transaction(call: &mut Call<'_>) -> Result<Done, Failure> {
    let micro_ops = call.invoke.value.as_array().cloned().unwrap_or_default();
    let mut pipeline = redis::pipe();
    pipeline.cmd("MULTI");
    for m in &micro_ops {
        pipeline.add_command(micro_op_command(m, call.cfg)?);
    }
    pipeline.cmd("EXEC");
    let count = micro_ops.len() + 2;
    let mut replies = call
        .conn
        .send_pipeline(&pipeline, count, call.attempt)
        .await?;
    let exec = match replies.pop() {
        Some(reply) if replies.len() + 1 == count => reply,
        _ => return Err(Failure::Indeterminate("transaction replies missing".into())),
    };
    // A cluster refuses a queued command whose slot is elsewhere (MOVED, ASK, TRYAGAIN) and
    // then aborts the whole EXEC: the refusal is the reason, and nothing ran.
    if matches!(exec, Value::ServerError(_)) {
        if let Some(refusal) = replies.into_iter().find_map(cluster_refusal) {
            return Err(refusal);
        }
    }
    let exec = server_error_to_failure(exec)?;
    let results = match exec {
        Value::Array(results) if results.len() == micro_ops.len() => results,
        other => return Err(Failure::Indeterminate(format!("EXEC replied {other:?}"))),
    };
    let mut filled = Vec::with_capacity(micro_ops.len());
    for (m, result) in micro_ops.iter().zip(results) {
        // A command that failed inside EXEC does not undo the others: the transaction was
        // partly applied, which the history cannot say, so it is indeterminate.
        let result = server_error_to_failure(result)
            .map_err(|e| Failure::Indeterminate(format!("inside EXEC: {}", e.message())))?;
        if m.get(0).and_then(Json::as_str) == Some("r") {
            filled.push(json!(["r", m[1].clone(), list_elements(&result)]));
        } else {
            filled.push(m.clone());
        }
    }
    Ok(Done::read(Json::Array(filled)))
}

/// A queued command's cluster refusal, as the failure it is.
fn cluster_refusal(reply: Value) -> Option<Failure> {
    let failure = server_error_to_failure(reply).err()?;
    match &failure {
        Failure::Rejected { code, .. }
            if matches!(code.as_str(), "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN") =>
        {
            Some(failure)
        }
        _ => None,
    }
}

/// `["append", k, v]` → `RPUSH la:k v`; `["r", k, _]` → `LRANGE la:k 0 -1` (with the group's
/// hash tag in a cluster).
fn micro_op_command(m: &Json, cfg: &WorkloadConfig) -> Result<Cmd, Failure> {
    let bad = || Failure::NotSent(format!("malformed micro-op {m}"));
    let list = list_name(m.get(1).ok_or_else(bad)?, cfg).ok_or_else(bad)?;
    match (m.get(0).and_then(Json::as_str), m.get(2)) {
        (Some("append"), Some(v)) => Ok(redis::cmd("RPUSH")
            .arg(list)
            .arg(v.as_i64().ok_or_else(bad)?)
            .clone()),
        (Some("r"), _) => Ok(redis::cmd("LRANGE").arg(list).arg(0).arg(-1).clone()),
        _ => Err(bad()),
    }
}
