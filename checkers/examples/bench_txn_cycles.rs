//! Benchmark driver for the txn-cycles checker: reads a JSONL history (redline's, Elle's or
//! adya's format), checks it, and prints the verdict, anomaly counts and the time each phase
//! took. The JSONL reader is part of the measured time.
//!
//! ```text
//! cargo run --release -p redline-checkers --example bench_txn_cycles -- HISTORY.jsonl [--explain N]
//! ```
//!
//! Output: one line `verdict=... read_s=... check_s=... total_s=... anomalies=KIND:N,...`,
//! then the stats as JSON, then up to N explanations (default 0).

use redline_checkers::history::jsonl;
use redline_checkers::{txn_cycles, CheckOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: bench_txn_cycles HISTORY.jsonl [--explain N]");
        return ExitCode::from(2);
    };
    let mut explain = 0usize;
    while let Some(a) = args.next() {
        if a == "--explain" {
            explain = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
        }
    }
    let t0 = Instant::now();
    let read = match jsonl::read_file(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(3);
        }
    };
    let t1 = Instant::now();
    let result = txn_cycles::check(&read.history, &CheckOptions::default());
    let t2 = Instant::now();
    let counts: Vec<String> = result
        .counts_by_kind()
        .into_iter()
        .map(|(k, n)| format!("{k}:{n}"))
        .collect();
    println!(
        "verdict={} read_s={:.3} check_s={:.3} total_s={:.3} anomalies={}",
        result.valid.as_str(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t2 - t0).as_secs_f64(),
        if counts.is_empty() { "none".to_string() } else { counts.join(",") }
    );
    println!("{}", serde_json::Value::Object(result.stats.clone()));
    for note in &result.notes {
        println!("note: {note}");
    }
    for a in result.anomalies.iter().take(explain) {
        println!("\n{} {:?}\n  {}", a.kind, a.ops, a.explanation);
    }
    match result.valid.as_str() {
        "valid" => ExitCode::SUCCESS,
        "invalid" => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}
