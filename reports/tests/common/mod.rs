//! A small hand-built run with faults, shared by the report tests: a set add that was
//! acknowledged (WAIT acked by 1) and then lost across a kill of n1 and a partition, and a stale
//! read of r1 on replica n3. Every number below can be checked by eye.

#![allow(dead_code)]

use redline_checkers::history::jsonl::read_str;
use redline_checkers::{Anomaly, CheckResult, ExpectationOutcome, History, Op, Results};
use redline_reports::{NodeInfo, RunInfo, ServerInfo};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const HISTORY: &str = r#"
{"index":0,"time":10000000,"process":0,"type":"invoke","f":"add","key":"s","value":1,"node":"n1","wait":{"replicas":1,"timeout_ms":100}}
{"index":1,"time":12000000,"process":0,"type":"ok","f":"add","key":"s","value":1,"node":"n1","wait":{"replicas":1,"timeout_ms":100,"acked":1}}
{"index":2,"time":15000000,"process":1,"type":"invoke","f":"write","key":"r1","value":1,"node":"n1"}
{"index":3,"time":16000000,"process":1,"type":"ok","f":"write","key":"r1","value":1,"node":"n1"}
{"index":4,"time":20000000,"process":"nemesis","type":"invoke","f":"kill","value":["n1"]}
{"index":5,"time":21000000,"process":"nemesis","type":"info","f":"kill","value":["n1"]}
{"index":6,"time":25000000,"process":0,"type":"invoke","f":"add","key":"s","value":2,"node":"n1"}
{"index":7,"time":26000000,"process":0,"type":"fail","f":"add","key":"s","value":2,"node":"n1","error":"connection refused"}
{"index":8,"time":27000000,"process":1,"type":"invoke","f":"write","key":"r1","value":2,"node":"n1"}
{"index":9,"time":1027000000,"process":1,"type":"info","f":"write","key":"r1","value":2,"node":"n1","error":"timeout"}
{"index":10,"time":1040000000,"process":"nemesis","type":"invoke","f":"start","value":["n1"]}
{"index":11,"time":1045000000,"process":"nemesis","type":"info","f":"start","value":["n1"]}
{"index":12,"time":1050000000,"process":2,"type":"invoke","f":"write","key":"r1","value":3,"node":"n2"}
{"index":13,"time":1052000000,"process":2,"type":"ok","f":"write","key":"r1","value":3,"node":"n2"}
{"index":14,"time":1060000000,"process":"nemesis","type":"invoke","f":"partition","value":{"grudge":"isolate-master","cut":[["n1","n2"],["n1","n3"]]}}
{"index":15,"time":1061000000,"process":"nemesis","type":"info","f":"partition","value":{"grudge":"isolate-master","cut":[["n1","n2"],["n1","n3"]]}}
{"index":16,"time":1070000000,"process":3,"type":"invoke","f":"read","key":"r1","value":null,"node":"n3"}
{"index":17,"time":1071000000,"process":3,"type":"ok","f":"read","key":"r1","value":1,"node":"n3"}
{"index":18,"time":1080000000,"process":"nemesis","type":"invoke","f":"heal","value":null}
{"index":19,"time":1081000000,"process":"nemesis","type":"info","f":"heal","value":null}
{"index":20,"time":1090000000,"process":"observer","type":"info","f":"topology","value":{"master":"n2","replicas":["n1","n3"]}}
{"index":21,"time":1100000000,"process":0,"type":"invoke","f":"read","key":"s","value":null,"node":"n2","final":true}
{"index":22,"time":1101000000,"process":0,"type":"ok","f":"read","key":"s","value":[],"node":"n2","final":true}
"#;

pub fn history() -> History {
    read_str(HISTORY.trim())
        .expect("fixture history parses")
        .history
}

/// Observer samples: n2 master, n1 and n3 replicas a little behind; n2 and n1 with AOF on, n2
/// busy (a background fsync pending, its buffer unwritten).
pub fn telemetry() -> Vec<Op> {
    let mut ops = Vec::new();
    for (i, (ms, node, value)) in [
        (
            5u64,
            "n2",
            json!({"role": "master", "master_repl_offset": 1000}),
        ),
        (6, "n3", json!({"role": "slave", "slave_repl_offset": 900})),
        (
            500,
            "n2",
            json!({"role": "master", "master_repl_offset": 5000, "persistence":
                   {"aof_enabled": 1, "aof_pending_bio_fsync": 1, "aof_buffer_length": 4812}}),
        ),
        (
            501,
            "n3",
            json!({"role": "slave", "slave_repl_offset": "4200"}),
        ),
        (
            502,
            "n1",
            json!({"role": "slave", "slave_repl_offset": 4900,
                   "persistence": {"aof_enabled": 1}}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut op = Op::new(
            i as u64,
            ms * 1_000_000,
            redline_checkers::Process::Observer,
            redline_checkers::OpType::Info,
            "replication",
        );
        op.node = Some(node.into());
        op.value = value;
        ops.push(op);
    }
    ops
}

fn stats(pairs: Value) -> Map<String, Value> {
    pairs.as_object().cloned().unwrap_or_default()
}

pub fn results() -> Results {
    let lost = Anomaly::new(
        "lost",
        vec![0, 1, 22],
        "add of 1 to s was acknowledged at 12.000 ms (op 1, WAIT acked by 1) but the final read \
         of the master n2 at 1101.000 ms (op 22) returned [] <no 1>"
            .to_string(),
    )
    .with_key("s")
    .with_details(json!({"element": 1, "acked": 1}));
    let stale = Anomaly::new(
        "stale-read",
        vec![12, 13, 16, 17],
        "read of r1 on n3 invoked at 1070.000 ms (op 16) returned 1, but write 3 (op 13) had \
         completed at 1052.000 ms: 18 ms stale, 1 version behind"
            .to_string(),
    )
    .with_key("r1")
    .with_details(json!({"staleness_ms": 18.0, "node": "n3", "versions_behind": 1}));
    let mut checkers = BTreeMap::new();
    checkers.insert(
        "lost-writes".to_string(),
        CheckResult::from_anomalies(
            vec![lost],
            stats(
                json!({"attempted": 2, "acknowledged": 1, "lost": 1, "recovered": 0,
                "unexpected": 0, "never_read": 0, "stable": 0,
                "visibility_ms_p50": 1.5, "visibility_ms_p99": 3.0, "visibility_ms_max": 4.0}),
            ),
        ),
    );
    checkers.insert(
        "stale-reads".to_string(),
        CheckResult::from_anomalies(
            vec![stale],
            stats(json!({"reads": 1, "stale": 1, "stale_fraction": 1.0,
                "staleness_ms_p50": 18.0, "staleness_ms_p99": 18.0, "staleness_ms_max": 18.0,
                "per_node": {"n3": {"reads": 1, "stale": 1, "staleness_ms_p50": 18.0,
                    "staleness_ms_p99": 18.0, "staleness_ms_max": 18.0}}})),
        ),
    );
    checkers.insert(
        "linearizable".to_string(),
        CheckResult::skipped("reads are served by replicas"),
    );
    checkers.insert(
        "session".to_string(),
        CheckResult::unknown("search budget exhausted"),
    );
    checkers.insert(
        "availability".to_string(),
        CheckResult::from_anomalies(vec![], stats(json!({"ok": 4, "fail": 1, "info": 1}))),
    );
    let mut results = Results::new(checkers);
    results.expectations = vec![
        ExpectationOutcome {
            rule: "lost-writes=0".into(),
            held: Some(false),
            detail: "1 lost".into(),
        },
        ExpectationOutcome {
            rule: "stale-reads<=1".into(),
            held: Some(true),
            detail: String::new(),
        },
        ExpectationOutcome {
            rule: "session".into(),
            held: None,
            detail: "session was unknown".into(),
        },
    ];
    results
}

pub fn run_info() -> RunInfo {
    RunInfo {
        name: "set-register-kill".into(),
        workload: "set".into(),
        nemesis: "kill:master,partition:isolate-master".into(),
        seed: 42,
        started_at: "2025-02-01T10:00:00Z".into(),
        duration_ms: 1_200,
        command:
            "redline test --workload set --nemesis kill:master,partition:isolate-master --seed 42"
                .into(),
        server: ServerInfo {
            name: "valkey".into(),
            version: "8.0.2".into(),
            binary: "/usr/bin/valkey-server".into(),
        },
        nodes: vec![
            NodeInfo {
                name: "n1".into(),
                role: "master".into(),
                port: 7001,
            },
            NodeInfo {
                name: "n2".into(),
                role: "replica".into(),
                port: 7002,
            },
            NodeInfo {
                name: "n3".into(),
                role: "replica".into(),
                port: 7003,
            },
        ],
        sentinels: 0,
        replicas: 2,
        redis_options: vec!["appendonly=yes".into()],
        concurrency: 4,
        time_limit_s: 1.0,
        fault_schedule: json!([{"at_ms": 20, "f": "kill"}]),
    }
}
