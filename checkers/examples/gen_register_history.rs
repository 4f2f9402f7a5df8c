//! Writes a seeded register history (`linearizable::simulate`) as JSONL, for benchmarks and
//! peer checkers (not part of the tests).
//!
//! ```text
//! cargo run --release -p redline-checkers --example gen_register_history -- \
//!     [--keys N] [--ops N (per key)] [--processes N] [--read-rate F] [--cas-rate F]
//!     [--info-rate F (of writes and cas)] [--info-effect F (of those, took effect)]
//!     [--fail-rate F] [--info-burst N] [--variant linearizable|stale|future] [--at F]
//!     [--seed N] [--out FILE]
//! ```
//! Defaults: 1 key, 100 ops, 5 processes, half reads, no cas, 5% info writes of which half
//! took effect, 2% failed writes, linearizable, seed 1, to stdout. `--variant stale` makes the
//! ok read nearest to fraction `--at` (default 0.5) of key r0's ops return a value overwritten
//! about 100 writes before it began; `--variant future` makes it return the value of a write
//! invoked after it completed. Both make the history not linearizable.

use redline_checkers::linearizable::simulate::{simulate, SimConfig, Variant};
use std::io::Write;

fn parse_args() -> Result<(SimConfig, Option<String>), String> {
    let mut cfg = SimConfig::default();
    let mut out = None;
    let mut variant = "linearizable".to_string();
    let mut at = 0.5;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let num = |what: &str| -> Result<f64, String> {
            value
                .parse()
                .map_err(|_| format!("{what} needs a number, not {value:?}"))
        };
        match flag.as_str() {
            "--keys" => cfg.keys = num(&flag)? as usize,
            "--ops" => cfg.ops_per_key = num(&flag)? as usize,
            "--processes" => cfg.processes = num(&flag)? as usize,
            "--read-rate" => cfg.read_rate = num(&flag)?,
            "--cas-rate" => cfg.cas_rate = num(&flag)?,
            "--info-rate" => cfg.info_rate = num(&flag)?,
            "--info-effect" => cfg.info_effect = num(&flag)?,
            "--fail-rate" => cfg.fail_rate = num(&flag)?,
            "--info-burst" => cfg.info_burst = num(&flag)? as usize,
            "--at" => at = num(&flag)?,
            "--seed" => {
                cfg.seed = value
                    .parse()
                    .map_err(|_| format!("--seed needs an integer, not {value:?}"))?
            }
            "--variant" => variant = value,
            "--out" => out = Some(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    cfg.variant = match variant.as_str() {
        "linearizable" => Variant::Linearizable,
        "stale" => Variant::StaleRead { at },
        "future" => Variant::FutureRead { at },
        other => {
            return Err(format!(
                "unknown variant {other} (linearizable, stale, future)"
            ))
        }
    };
    Ok((cfg, out))
}

fn write(cfg: &SimConfig, out: Option<String>) -> std::io::Result<()> {
    let sink: Box<dyn Write> = match out {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, sink);
    for op in simulate(cfg) {
        serde_json::to_writer(&mut sink, &op)?;
        sink.write_all(b"\n")?;
    }
    sink.flush()
}

fn main() {
    let (cfg, out) = match parse_args() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("gen_register_history: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = write(&cfg, out) {
        eprintln!("gen_register_history: {e}");
        std::process::exit(2);
    }
}
