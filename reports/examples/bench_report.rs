//! Renders the report of a synthetic history of 1,000,000 client operations (2,000,000 records)
//! and prints how long each output took and how big the page is.
//!
//! `cargo run --release -p redline-reports --example bench_report [OPERATIONS]`
//!
//! The history: 20 client lanes doing register writes on the master and reads on two replicas
//! over ~60 s, about 1% fail and 0.5% info (a process that ends info continues as a new id),
//! a kill/start of n1 and a partition/heal every 10 s, INFO replication samples every 100 ms per
//! node, 1,000 lost-write and 5,000 stale-read anomalies.

use redline_checkers::{Anomaly, CheckResult, History, Op, OpType, Process, Results};
use redline_reports::{junit_xml, render_html, summary_table, RunInfo};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

const CONCURRENCY: u64 = 20;

fn synthetic_history(operations: u64) -> Vec<Op> {
    let mut ops = Vec::with_capacity(operations as usize * 2 + 64);
    let mut next_fault_s = 5u64;
    let mut process_of_lane: Vec<u64> = (0..CONCURRENCY).collect();
    // A lane invokes again only after its previous operation completed.
    let mut busy_until = vec![0u64; CONCURRENCY as usize];
    let step_ns = 60_000_000_000 / operations.max(1); // spread over ~60 s
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for i in 0..operations {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let t = i * step_ns;
        if t / 1_000_000_000 >= next_fault_s {
            let (f, heal) = if (next_fault_s / 5) % 2 == 1 {
                ("kill", "start")
            } else {
                ("partition", "heal")
            };
            let value = if f == "kill" {
                json!(["n1"])
            } else {
                json!({"grudge": "isolate-master"})
            };
            for (f, at, value) in [(f, t, value.clone()), (heal, t + 3_000_000_000, value)] {
                for op_type in [OpType::Invoke, OpType::Info] {
                    let mut op = Op::new(0, at, Process::Nemesis, op_type, f);
                    op.value = value.clone();
                    ops.push(op);
                }
            }
            next_fault_s += 5;
        }
        let lane = (i % CONCURRENCY) as usize;
        let process = process_of_lane[lane];
        let t = t.max(busy_until[lane] + 1_000);
        let write = matches!(rng % 3, 0);
        let (f, node) = if write {
            ("write", "n1")
        } else {
            ("read", if matches!(rng % 2, 0) { "n2" } else { "n3" })
        };
        let mut invoke = Op::new(0, t, Process::Client(process), OpType::Invoke, f);
        invoke.key = Some(format!("r{}", rng % 16).into());
        invoke.node = Some(node.into());
        invoke.value = if write { json!(i) } else { Value::Null };
        let outcome = match rng % 200 {
            0 | 1 => OpType::Fail,
            2 => OpType::Info,
            _ => OpType::Ok,
        };
        let latency = 50_000
            + (rng >> 40) % 2_000_000
            + if matches!(rng % 1000, 0) {
                500_000_000
            } else {
                0
            };
        let mut completion = Op {
            op_type: outcome,
            time: t + latency,
            ..invoke.clone()
        };
        if !write && outcome == OpType::Ok {
            completion.value = json!(i.saturating_sub(rng % 50));
        }
        busy_until[lane] = completion.time;
        if outcome == OpType::Info {
            process_of_lane[lane] += CONCURRENCY;
        }
        ops.push(invoke);
        ops.push(completion);
    }
    // Completions land after later invocations: order records by time, then number them.
    ops.sort_by_key(|o| o.time);
    for (index, op) in ops.iter_mut().enumerate() {
        op.index = index as u64;
    }
    ops
}

fn telemetry(seconds: u64) -> Vec<Op> {
    let mut ops = Vec::new();
    for tick in 0..seconds * 10 {
        let t = tick * 100_000_000;
        let master = tick as i64 * 10_000;
        for (node, role, offset) in [
            ("n1", "master", master),
            ("n2", "slave", master - 3_000),
            ("n3", "slave", master - (tick as i64 % 50) * 1_000),
        ] {
            let mut op = Op::new(0, t, Process::Observer, OpType::Info, "replication");
            op.node = Some(node.into());
            op.value =
                json!({"role": role, "master_repl_offset": master, "slave_repl_offset": offset});
            ops.push(op);
        }
    }
    ops
}

fn results(history: &History) -> Results {
    let reads: Vec<&Op> = history
        .ops()
        .iter()
        .filter(|o| o.f == "read" && o.op_type == OpType::Ok)
        .take(5_000)
        .collect();
    let stale = reads
        .iter()
        .map(|r| {
            Anomaly::new(
                "stale-read",
                vec![r.index],
                format!("read {} returned an old value", r.index),
            )
            .with_details(json!({"staleness_ms": (r.index % 97) as f64, "node": r.node}))
        })
        .collect();
    let writes: Vec<&Op> = history
        .ops()
        .iter()
        .filter(|o| o.f == "write" && o.op_type == OpType::Ok)
        .take(1_000)
        .collect();
    let lost = writes
        .iter()
        .map(|w| {
            Anomaly::new("lost", vec![w.index], format!("write {} lost", w.index)).with_key("r1")
        })
        .collect();
    let stats = |v: Value| v.as_object().cloned().unwrap_or_else(Map::new);
    let mut checkers = BTreeMap::new();
    checkers.insert(
        "stale-reads".to_string(),
        CheckResult::from_anomalies(stale, stats(json!({"reads": 600000, "stale": 5000}))),
    );
    checkers.insert(
        "lost-writes".to_string(),
        CheckResult::from_anomalies(
            lost,
            stats(json!({"lost": 1000, "visibility_ms_p50": 1.0, "visibility_ms_p99": 9.0})),
        ),
    );
    Results::new(checkers)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let operations: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let started = Instant::now();
    let history = History::new(synthetic_history(operations))?;
    let telemetry = telemetry(61);
    let results = results(&history);
    println!(
        "built {} records ({operations} operations) in {:.2?}",
        history.len(),
        started.elapsed()
    );
    let info = RunInfo {
        name: "bench".into(),
        concurrency: CONCURRENCY,
        ..RunInfo::default()
    };

    let t = Instant::now();
    let page = render_html(Some(&info), &history, &telemetry, &results)?;
    println!(
        "render_html: {:.2?}, page {} bytes ({:.2} MB)",
        t.elapsed(),
        page.len(),
        page.len() as f64 / 1e6
    );
    let t = Instant::now();
    let table = summary_table(Some(&info), &history, &results);
    println!("summary_table: {:.2?}, {} bytes", t.elapsed(), table.len());
    let t = Instant::now();
    let xml = junit_xml("bench", &[(Some(&info), &results)])?;
    println!("junit_xml: {:.2?}, {} bytes", t.elapsed(), xml.len());
    if let Some(path) = std::env::args().nth(2) {
        std::fs::write(&path, &page)?;
        println!("wrote {path}");
    }
    Ok(())
}
