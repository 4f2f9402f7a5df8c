//! Hand-written register histories for the linearizable checker: ones that must be flagged and
//! near-misses that must pass.

use redline_checkers::history::{History, Op, OpType, Process};
use redline_checkers::linearizable::check;
use redline_checkers::{CheckOptions, CheckResult, Validity};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Builds a history record by record; times are in ms, the key is "r" unless set.
#[derive(Default)]
struct Builder {
    ops: Vec<Op>,
    key: Option<String>,
}

impl Builder {
    fn key(mut self, k: &str) -> Self {
        self.key = Some(k.into());
        self
    }
    fn rec(mut self, p: u64, t: OpType, f: &str, v: Value, ms: u64, err: Option<&str>) -> Self {
        let mut op = Op::new(
            self.ops.len() as u64,
            ms * 1_000_000,
            Process::Client(p),
            t,
            f,
        );
        op.key = Some(self.key.as_deref().unwrap_or("r").into());
        op.value = v;
        op.error = err.map(Into::into);
        self.ops.push(op);
        self
    }
    fn invoke(self, p: u64, f: &str, v: Value, ms: u64) -> Self {
        self.rec(p, OpType::Invoke, f, v, ms, None)
    }
    fn ok(self, p: u64, f: &str, v: Value, ms: u64) -> Self {
        self.rec(p, OpType::Ok, f, v, ms, None)
    }
    fn info(self, p: u64, f: &str, v: Value, ms: u64) -> Self {
        self.rec(p, OpType::Info, f, v, ms, Some("timeout"))
    }
    fn fail(self, p: u64, f: &str, v: Value, ms: u64, err: &str) -> Self {
        self.rec(p, OpType::Fail, f, v, ms, Some(err))
    }
    /// A complete write by `p` from `a` to `b` ms.
    fn write(self, p: u64, v: i64, a: u64, b: u64) -> Self {
        self.invoke(p, "write", json!(v), a)
            .ok(p, "write", json!(v), b)
    }
    /// A complete read by `p` that returned `v`.
    fn read(self, p: u64, v: Value, a: u64, b: u64) -> Self {
        self.invoke(p, "read", Value::Null, a).ok(p, "read", v, b)
    }
    fn history(self) -> History {
        let mut ops = self.ops;
        ops.sort_by_key(|o| o.time);
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        History::new(ops).expect("well-formed test history")
    }
}

fn run(h: &History) -> CheckResult {
    let opts = CheckOptions {
        reads_from_master: Some(true),
        linearizable_time_budget: Duration::from_secs(20),
        ..CheckOptions::default()
    };
    check(h, &opts)
}

fn valid(b: Builder) {
    let r = run(&b.history());
    assert_eq!(r.valid, Validity::Valid, "{r:#?}");
    assert!(r.anomalies.is_empty());
}

fn invalid(b: Builder) -> CheckResult {
    let r = run(&b.history());
    assert_eq!(r.valid, Validity::Invalid, "{r:#?}");
    assert_eq!(r.anomalies[0].kind, "nonlinearizable");
    r
}

#[test]
fn sequential_writes_and_reads_pass() {
    valid(
        Builder::default()
            .write(0, 1, 0, 1)
            .read(1, json!(1), 2, 3)
            .write(0, 2, 4, 5)
            .read(1, json!(2), 6, 7),
    );
}

#[test]
fn read_concurrent_with_a_write_may_see_either_value() {
    valid(
        Builder::default()
            .write(0, 1, 0, 1)
            .invoke(0, "write", json!(2), 2)
            .read(1, json!(2), 3, 4)
            .ok(0, "write", json!(2), 5),
    );
    valid(
        Builder::default()
            .write(0, 1, 0, 1)
            .invoke(0, "write", json!(2), 2)
            .read(1, json!(1), 3, 4)
            .ok(0, "write", json!(2), 5),
    );
}

#[test]
fn read_of_nil_after_a_completed_write_is_flagged() {
    let r = invalid(
        Builder::default()
            .write(0, 1, 0, 1)
            .read(1, Value::Null, 2, 3),
    );
    let a = &r.anomalies[0];
    assert_eq!(a.key.as_deref(), Some("r"));
    assert_eq!(a.details["first_unlinearizable"], json!(2));
    assert!(
        a.explanation.contains("read of nil at op 2"),
        "{}",
        a.explanation
    );
    assert!(a.explanation.contains("holds 1"), "{}", a.explanation);
}

#[test]
fn read_of_nil_concurrent_with_the_first_write_passes() {
    valid(
        Builder::default()
            .invoke(0, "write", json!(1), 0)
            .read(1, Value::Null, 1, 2)
            .ok(0, "write", json!(1), 3),
    );
    // Closed intervals: the read begins exactly when the write completes, so they overlap.
    valid(
        Builder::default()
            .write(0, 1, 0, 2)
            .read(1, Value::Null, 2, 3),
    );
}

#[test]
fn stale_read_is_explained_with_the_longest_prefix() {
    let r = invalid(
        Builder::default()
            .write(0, 1, 0, 1)
            .write(0, 3, 2, 3)
            .write(0, 4, 4, 5)
            .read(1, json!(3), 6, 7),
    );
    let a = &r.anomalies[0];
    assert!(
        a.explanation.contains("read of 3 at op 6"),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation.contains("op 4 (write 4) -> 4"),
        "{}",
        a.explanation
    );
    assert!(a.explanation.contains("holds 4"), "{}", a.explanation);
    assert_eq!(a.details["prefix"].as_array().map(Vec::len), Some(3));
    assert_eq!(a.ops[0], 6);
}

#[test]
fn failed_write_did_not_happen() {
    invalid(
        Builder::default()
            .invoke(0, "write", json!(1), 0)
            .fail(0, "write", json!(1), 1, "READONLY")
            .read(1, json!(1), 2, 3),
    );
}

#[test]
fn cas_histories() {
    let cas = |b: Builder, p, o: Value, n: i64, a, z| {
        b.invoke(p, "cas", json!([o, n]), a)
            .ok(p, "cas", json!([o, n]), z)
    };
    valid(cas(Builder::default().write(0, 1, 0, 1), 0, json!(1), 2, 2, 3).read(1, json!(2), 4, 5));
    invalid(cas(
        Builder::default().write(0, 1, 0, 1),
        0,
        json!(5),
        2,
        2,
        3,
    ));
    // The cas from 1 succeeded, so a later cas from 1 cannot succeed too.
    let b = cas(Builder::default().write(0, 1, 0, 1), 0, json!(1), 2, 2, 3);
    invalid(cas(b, 1, json!(1), 3, 4, 5));
}

#[test]
fn mismatch_cas_says_the_register_differed() {
    let mismatch = |b: Builder, p, o: i64, a, z| {
        b.invoke(p, "cas", json!([o, 9]), a)
            .fail(p, "cas", json!([o, 9]), z, "mismatch")
    };
    // The register certainly holds 1 throughout the cas: the mismatch is a violation.
    invalid(mismatch(Builder::default().write(0, 1, 0, 1), 1, 1, 2, 3));
    // A concurrent write of 2 may have made it differ.
    let b = Builder::default()
        .write(0, 1, 0, 1)
        .invoke(0, "write", json!(2), 2);
    valid(mismatch(b, 1, 1, 3, 4).ok(0, "write", json!(2), 5));
    // So may an info write, even one nobody read.
    let b = Builder::default()
        .write(0, 1, 0, 1)
        .invoke(2, "write", json!(7), 2)
        .info(2, "write", json!(7), 3);
    valid(mismatch(b, 1, 1, 4, 5));
    // A mismatch against a value the register did not hold is fine; a failed cas of another
    // kind (not mismatch) did not happen and constrains nothing.
    valid(mismatch(Builder::default().write(0, 1, 0, 1), 1, 5, 2, 3));
    valid(
        Builder::default()
            .write(0, 1, 0, 1)
            .invoke(1, "cas", json!([1, 9]), 2)
            .fail(1, "cas", json!([1, 9]), 3, "READONLY")
            .read(1, json!(1), 4, 5),
    );
}

#[test]
fn info_writes_may_or_may_not_take_effect() {
    let info_write = |b: Builder, p, v: i64, a, z| {
        b.invoke(p, "write", json!(v), a)
            .info(p, "write", json!(v), z)
    };
    // Took effect, long after its info completion.
    valid(
        info_write(Builder::default().write(0, 1, 0, 1), 2, 5, 2, 3)
            .read(1, json!(1), 10, 11)
            .read(1, json!(5), 20, 21),
    );
    // Did not take effect.
    valid(info_write(Builder::default().write(0, 1, 0, 1), 2, 5, 2, 3).read(1, json!(1), 10, 11));
    // It cannot take effect twice: 5, then 1, then 5 again.
    invalid(
        info_write(Builder::default().write(0, 1, 0, 1), 2, 5, 2, 3)
            .read(1, json!(5), 10, 11)
            .write(0, 6, 12, 13)
            .read(1, json!(5), 14, 15),
    );
    // It cannot take effect before it was invoked.
    invalid(info_write(
        Builder::default().write(0, 1, 0, 1).read(1, json!(5), 2, 3),
        2,
        5,
        4,
        5,
    ));
    // An info read constrains nothing.
    valid(
        Builder::default()
            .write(0, 1, 0, 1)
            .invoke(1, "read", Value::Null, 2)
            .info(1, "read", Value::Null, 3),
    );
}

/// Two mismatch cas ops from 1 each need an info write to have changed the register, and a
/// third, from 2, needs it not to hold 2 at the end: the first must use the write of 2 and the
/// second the write of 3, the reverse of their invocation order. No op reads 2 or 3, but the
/// last cas compares against 2, so the two writes do not stand in for each other.
#[test]
fn info_writes_nobody_reads_are_told_apart_by_mismatch_cas() {
    let mismatch = |b: Builder, p, o: i64, a, z| {
        b.invoke(p, "cas", json!([o, 9]), a)
            .fail(p, "cas", json!([o, 9]), z, "mismatch")
    };
    let b = Builder::default()
        .write(0, 1, 0, 1)
        .invoke(3, "write", json!(3), 2)
        .invoke(2, "write", json!(2), 3)
        .info(3, "write", json!(3), 4)
        .info(2, "write", json!(2), 5);
    let b = mismatch(b, 1, 1, 10, 11).write(0, 1, 12, 13);
    let b = mismatch(b, 1, 1, 14, 15);
    valid(mismatch(b, 1, 2, 16, 17));
}

/// 25 writes that all time out at once, some of which later show up in reads.
fn info_burst(reads: &[i64]) -> Builder {
    let mut b = Builder::default().write(0, 100, 0, 1);
    for i in 0..25 {
        b = b
            .invoke(10 + i, "write", json!(i), 2 + i)
            .info(10 + i, "write", json!(i), 40 + i);
    }
    for (j, &v) in reads.iter().enumerate() {
        let t = 100 + 10 * j as u64;
        b = b.read(1, json!(v), t, t + 1);
    }
    b
}

#[test]
fn many_concurrent_info_writes_are_fast() {
    let started = Instant::now();
    valid(info_burst(&[100, 3, 17, 4, 24, 0, 11]));
    valid(info_burst(&[
        3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 2, 4, 6, 8, 10,
    ]));
    // 3 twice with 17 in between: the info write of 3 would have to take effect twice.
    let r = invalid(info_burst(&[3, 17, 3]));
    assert!(
        r.anomalies[0].explanation.contains("read of 3"),
        "{}",
        r.anomalies[0].explanation
    );
    // 100 after an info value: the ok write of 100 completed before any info write began.
    invalid(info_burst(&[5, 100]));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn keys_are_checked_independently() {
    let b = Builder::default()
        .key("a")
        .write(0, 1, 0, 1)
        .key("b")
        .write(1, 1, 0, 1)
        .read(2, Value::Null, 2, 3)
        .key("a")
        .read(3, json!(1), 2, 3);
    let r = invalid(b);
    assert_eq!(r.anomalies.len(), 1);
    assert_eq!(r.anomalies[0].key.as_deref(), Some("b"));
    assert_eq!(r.stats["keys"], json!(2));
    assert_eq!(r.stats["keys_checked"], json!(2));
}

#[test]
fn final_reads_are_left_out() {
    let mut h = Builder::default()
        .write(0, 1, 0, 1)
        .read(1, Value::Null, 2, 3);
    for op in &mut h.ops[2..] {
        op.is_final = true;
    }
    let r = run(&h.history());
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.stats["final_reads_ignored"], json!(1));
}

#[test]
fn replica_reads_and_other_workloads_are_skipped() {
    let h = Builder::default()
        .write(0, 1, 0, 1)
        .read(1, Value::Null, 2, 3)
        .history();
    let opts = CheckOptions {
        reads_from_master: Some(false),
        ..CheckOptions::default()
    };
    let r = check(&h, &opts);
    assert!(r
        .skipped
        .as_deref()
        .is_some_and(|s| s.contains("--read-from master")));
    let mut add = Op::new(0, 0, Process::Client(0), OpType::Invoke, "add");
    add.key = Some("s".into());
    let r = run(&History::new(vec![add]).expect("history"));
    assert!(r.skipped.is_some());
}

#[test]
fn exhausted_budget_is_unknown_never_true() {
    let h = info_burst(&[3, 17, 4]).history();
    let opts = CheckOptions {
        reads_from_master: Some(true),
        linearizable_memory_budget: 0,
        ..CheckOptions::default()
    };
    let r = check(&h, &opts);
    assert_eq!(r.valid, Validity::Unknown, "{r:#?}");
    assert_eq!(r.stats["keys_unknown"], json!(1));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("undecided") && n.contains("r (")),
        "{:?}",
        r.notes
    );
    let opts = CheckOptions {
        linearizable_time_budget: Duration::ZERO,
        ..opts
    };
    assert_ne!(check(&h, &opts).valid, Validity::Valid);
}

/// Jepsen's and Knossos's single-register histories have no key and no clock: one register,
/// in history order. A read of a value that only a failed write wrote cannot be linearized.
#[test]
fn keyless_clockless_single_register_histories_are_checked() {
    let bad = r#"{"process":0,"type":"invoke","f":"write","value":0}
{"process":0,"type":"ok","f":"write","value":0}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":2,"type":"invoke","f":"write","value":4}
{"process":2,"type":"fail","f":"write","value":4}
{"process":1,"type":"ok","f":"read","value":4}
"#;
    let h = redline_checkers::history::jsonl::read_str(bad)
        .unwrap()
        .history;
    let opts = redline_checkers::CheckOptions {
        reads_from_master: Some(true),
        ..Default::default()
    };
    let r = redline_checkers::linearizable::check(&h, &opts);
    assert_eq!(r.valid, redline_checkers::Validity::Invalid, "{r:?}");
    let good = bad.replace(
        r#""type":"fail","f":"write","value":4"#,
        r#""type":"ok","f":"write","value":4"#,
    );
    let h = redline_checkers::history::jsonl::read_str(&good)
        .unwrap()
        .history;
    let r = redline_checkers::linearizable::check(&h, &opts);
    assert_eq!(r.valid, redline_checkers::Validity::Valid, "{r:?}");
}
