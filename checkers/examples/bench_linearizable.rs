//! Benchmark of the linearizable checker on simulated register histories (not part of the tests).
//!
//! ```text
//! cargo run --release -p redline-checkers --example bench_linearizable -- [SCENARIO] [--out DIR]
//!     [--keys N --ops N --processes N --info-burst N --info-rate F --cas-rate F --read-rate F
//!      --stale --seed N]
//! ```
//! SCENARIO is one of `burst` (100 ops, 20 concurrent info writes), `keys100` (100 keys x 1,000
//! ops), `million` (1,000,000 ops over 1,000 keys), `custom` (the flags), or `all` (default: the
//! first three). Prints one line per scenario: ops, verdict, check time, search states, and the
//! process's peak RSS (VmHWM). With `--out DIR` each generated history is also written to
//! `DIR/<scenario>.jsonl` for peer checkers.

use redline_checkers::history::{History, Op};
use redline_checkers::linearizable::check;
use redline_checkers::linearizable::simulate::{simulate, SimConfig};
use redline_checkers::CheckOptions;
use std::io::Write;
use std::time::{Duration, Instant};

fn scenario(name: &str, custom: &SimConfig) -> Option<SimConfig> {
    let base = SimConfig {
        seed: custom.seed,
        stale_read: custom.stale_read,
        cas_rate: custom.cas_rate,
        ..SimConfig::default()
    };
    Some(match name {
        "burst" => SimConfig {
            ops_per_key: 100,
            processes: 5,
            info_burst: 20,
            ..base
        },
        "keys100" => SimConfig {
            keys: 100,
            ops_per_key: 1_000,
            processes: 10,
            ..base
        },
        "million" => SimConfig {
            keys: 1_000,
            ops_per_key: 1_000,
            processes: 10,
            ..base
        },
        "custom" => custom.clone(),
        _ => return None,
    })
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn write_jsonl(path: &str, ops: &[Op]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for op in ops {
        serde_json::to_writer(&mut out, op)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn parse_args() -> Result<(Vec<String>, SimConfig, Option<String>), String> {
    let mut names = Vec::new();
    let mut cfg = SimConfig::default();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> Result<f64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{what} needs a number"))
        };
        match a.as_str() {
            "--keys" => cfg.keys = num("--keys")? as usize,
            "--ops" => cfg.ops_per_key = num("--ops")? as usize,
            "--processes" => cfg.processes = num("--processes")? as usize,
            "--info-burst" => cfg.info_burst = num("--info-burst")? as usize,
            "--info-rate" => cfg.info_rate = num("--info-rate")?,
            "--cas-rate" => cfg.cas_rate = num("--cas-rate")?,
            "--read-rate" => cfg.read_rate = num("--read-rate")?,
            "--seed" => {
                cfg.seed = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--seed needs an integer")?
            }
            "--stale" => cfg.stale_read = true,
            "--out" => out = Some(args.next().ok_or("--out needs a directory")?),
            "all" => names.extend(["burst", "keys100", "million"].map(String::from)),
            other if !other.starts_with('-') => names.push(other.to_string()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if names.is_empty() {
        names.extend(["burst", "keys100", "million"].map(String::from));
    }
    Ok((names, cfg, out))
}

fn main() {
    let (names, custom, out) = match parse_args() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("bench_linearizable: {e}");
            std::process::exit(2);
        }
    };
    let opts = CheckOptions {
        reads_from_master: Some(true),
        linearizable_time_budget: Duration::from_secs(120),
        ..CheckOptions::default()
    };
    for name in names {
        let Some(cfg) = scenario(&name, &custom) else {
            eprintln!("bench_linearizable: unknown scenario {name}");
            std::process::exit(2);
        };
        let ops = simulate(&cfg);
        if let Some(dir) = &out {
            let path = format!("{dir}/{name}.jsonl");
            if let Err(e) = write_jsonl(&path, &ops) {
                eprintln!("bench_linearizable: writing {path}: {e}");
                std::process::exit(2);
            }
        }
        let n = ops.len();
        let history = match History::new(ops) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("bench_linearizable: {e}");
                std::process::exit(2);
            }
        };
        let started = Instant::now();
        let result = check(&history, &opts);
        let elapsed = started.elapsed();
        println!(
            "{name}\trecords={n}\tops={}\tvalid={}\tcheck_ms={:.1}\tstates={}\tpeak_rss_mb={:.1}",
            result
                .stats
                .get("ops")
                .map_or(0, |v| v.as_u64().unwrap_or(0)),
            result.valid.as_str(),
            elapsed.as_secs_f64() * 1e3,
            result
                .stats
                .get("max_search_states")
                .map_or(0, |v| v.as_u64().unwrap_or(0)),
            peak_rss_kb() as f64 / 1024.0,
        );
        for note in &result.notes {
            println!("  note: {note}");
        }
    }
}
