//! Benchmark driver for the txn-cycles checker: reads a JSONL history (redline's, Elle's or
//! adya's format), checks it, and prints the verdict, anomaly counts and the time each phase
//! took. The JSONL reader is part of the measured time.
//!
//! ```text
//! cargo run --release -p redline-checkers --example bench_txn_cycles -- HISTORY.jsonl [--explain N] [--phases] [--history] [--compare]
//! ```
//!
//! The file is read as `redline check` reads a list-append history: streamed straight into
//! compact transactions ([`txn_cycles::stream`]), never held as a `History`. `--history` reads
//! it into a `History` first instead (the general path, for comparison), and `--compare` does
//! both and fails unless the two results are identical, anomaly for anomaly.
//!
//! Output: one line `verdict=... read_s=... check_s=... total_s=... anomalies=KIND:N,...`,
//! then the stats as JSON, then up to N explanations (default 0). `--phases` first times the
//! checker's stages one by one (extract, version orders, graph, cycle search) on the same
//! history, for profiling (it implies `--history`); the verdict line still times `check` as a
//! whole.

use redline_checkers::history::jsonl;
use redline_checkers::txn_cycles::stream;
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
    let (mut phases, mut via_history, mut compare) = (false, false, false);
    while let Some(a) = args.next() {
        if a == "--explain" {
            explain = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
        }
        phases |= a == "--phases";
        via_history |= a == "--history" || a == "--phases";
        compare |= a == "--compare";
    }
    if compare {
        return compare_paths(&path);
    }
    let t0 = Instant::now();
    let (txns, read) = if via_history {
        match jsonl::read_file(&path) {
            Ok(r) => (None, Some(r)),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(3);
            }
        }
    } else {
        match stream::read_file(&path) {
            Ok(r) => (Some(r.txns), None),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(3);
            }
        }
    };
    let t1 = Instant::now();
    let read_hwm = peak_rss_mb();
    if let (true, Some(read)) = (phases, &read) {
        time_phases(&read.history);
    }
    let t1 = if phases { Instant::now() } else { t1 };
    let opts = CheckOptions::default();
    let result = match (txns, &read) {
        (Some(txns), _) => txn_cycles::check_txns(txns, &opts),
        (None, Some(read)) => txn_cycles::check(&read.history, &opts),
        (None, None) => unreachable!("one of the two paths was read"),
    };
    let t2 = Instant::now();
    let counts: Vec<String> = result
        .counts_by_kind()
        .into_iter()
        .map(|(k, n)| format!("{k}:{n}"))
        .collect();
    println!(
        "verdict={} read_s={:.3} check_s={:.3} total_s={:.3} anomalies={} read_peak_mb={} peak_mb={}",
        result.valid.as_str(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t2 - t0).as_secs_f64(),
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(",")
        },
        read_hwm.map_or("?".into(), |m| m.to_string()),
        peak_rss_mb().map_or("?".into(), |m| m.to_string()),
    );
    println!("{}", serde_json::Value::Object(result.stats.clone()));
    for note in &result.notes {
        println!("note: {note}");
    }
    for a in result.anomalies.iter().take(explain) {
        println!("\n{} {:?}\n  {}", a.kind, a.ops, a.explanation);
    }
    let code = result.valid.as_str();
    // The process is about to exit: leave freeing millions of small allocations to the OS
    // (as a command-line checker would), so the measured time is reading plus checking.
    std::mem::forget(read);
    std::mem::forget(result);
    match code {
        "valid" => ExitCode::SUCCESS,
        "invalid" => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}

/// The process's peak resident set so far, in MB (Linux's `VmHWM`), when known.
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Checks the file both ways and compares the results as JSON.
fn compare_paths(path: &std::path::Path) -> ExitCode {
    let opts = CheckOptions::default();
    let (streamed, read) = match (stream::read_file(path), jsonl::read_file(path)) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(a), Err(b)) if a.to_string() == b.to_string() => {
            println!("same error: {a}");
            return ExitCode::SUCCESS;
        }
        (a, b) => {
            eprintln!("the readers disagree: {:?} / {:?}", a.err(), b.err());
            return ExitCode::from(4);
        }
    };
    let a = txn_cycles::check_txns(streamed.txns, &opts);
    let b = txn_cycles::check(&read.history, &opts);
    let (ja, jb) = (json_of(&a), json_of(&b));
    if ja == jb && streamed.warnings == read.warnings {
        println!("identical: {} anomalies", a.anomalies.len());
        ExitCode::SUCCESS
    } else {
        eprintln!("results differ:\n--- streamed\n{ja}\n--- history\n{jb}");
        ExitCode::from(4)
    }
}

/// A result as JSON, everything included.
fn json_of(r: &redline_checkers::CheckResult) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default()
}

/// Times each stage of the checker separately (the stages are public for this).
fn time_phases(history: &redline_checkers::History) {
    use txn_cycles::{cycles, graph, micro_op, version_order};
    let t = Instant::now();
    let Some(txns) = micro_op::extract(history) else {
        return;
    };
    let t_extract = t.elapsed();
    let t = Instant::now();
    let vo = version_order::infer(&txns);
    let t_infer = t.elapsed();
    let t = Instant::now();
    let g = graph::build(&txns, &vo, graph::Label::PROCESS | graph::Label::REALTIME);
    let t_graph = t.elapsed();
    let t = Instant::now();
    let outcome = cycles::search(&g, CheckOptions::default().txn_scc_time_budget);
    let t_search = t.elapsed();
    println!(
        "phases: extract_s={:.3} infer_s={:.3} graph_s={:.3} search_s={:.3} sccs={}",
        t_extract.as_secs_f64(),
        t_infer.as_secs_f64(),
        t_graph.as_secs_f64(),
        t_search.as_secs_f64(),
        outcome.scc_sizes.len()
    );
}
