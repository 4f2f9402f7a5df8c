//! The accepted range of every numeric option, checked once, up front, before anything runs.
//!
//! A value outside its range is refused with the option's name and the range, never carried
//! into the run: values that passed a mere "positive" check used to panic or allocate without
//! bound later (`--time-limit 1e20` overflows a `Duration`, `--converge-timeout 1e20` did so
//! only after the whole run, `--keys 2^64-1` made the final reads list every key,
//! `--max-txn-length 2^64-1` a transaction of that many micro-operations, `--rate 1e-300` a
//! period no clock can hold). The bounds are generous for any real test and small enough that
//! every derived quantity (deadlines, periods, allocations) stays finite.

use super::TestConfig;
use anyhow::{bail, Result};

/// One week: the longest `--time-limit`.
pub const MAX_TIME_LIMIT_S: f64 = 7.0 * 24.0 * 3600.0;
/// One day: the longest nemesis interval or fault.
pub const MAX_FAULT_S: f64 = 24.0 * 3600.0;
/// One hour: the longest wait for convergence.
pub const MAX_CONVERGE_S: f64 = 3600.0;
/// One hour, in milliseconds: the longest operation, WAIT, or Sentinel timing.
pub const MAX_MS: u64 = 3_600_000;
/// One minute: the largest link delay or jitter, or fsync delay.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The slowest rate besides 0 (unlimited), and the fastest.
pub const RATE_RANGE: (f64, f64) = (0.001, 1_000_000.0);
/// The most keys (every key is read back from every node at the end).
pub const MAX_KEYS: usize = 10_000;
/// The most elements per set or list (`--set-size`): a read returns a whole key, so this
/// bounds one reply and one history line.
pub const MAX_SET_SIZE: usize = 1_000_000;
/// The longest list-append transaction (one `MULTI`/`EXEC`).
pub const MAX_TXN_LENGTH: usize = 1_000;
/// The most client processes.
pub const MAX_CONCURRENCY: usize = 1_000;
/// The most replicas, and the most a WAIT may ask for.
pub const MAX_REPLICAS: usize = 16;
/// The most Sentinels.
pub const MAX_SENTINELS: usize = 9;
/// The most shards of a Redis Cluster (`--topology cluster`).
pub const MAX_SHARDS: usize = 16;

/// Checks every numeric option of `c` against its range.
pub fn check(c: &TestConfig) -> Result<()> {
    seconds("--time-limit", c.time_limit, MAX_TIME_LIMIT_S)?;
    seconds("--nemesis-interval", c.nemesis_interval, MAX_FAULT_S)?;
    if let Some(d) = c.fault_duration {
        seconds("--fault-duration", d, MAX_FAULT_S)?;
    }
    seconds("--converge-timeout", c.converge_timeout, MAX_CONVERGE_S)?;
    if c.rate != 0.0 && !(RATE_RANGE.0..=RATE_RANGE.1).contains(&c.rate) {
        bail!(
            "--rate must be 0 (unlimited) or between {} and {} operations per second, not {}",
            RATE_RANGE.0,
            RATE_RANGE.1,
            c.rate
        );
    }
    if let Some(r) = c.read_ratio {
        if !(0.0..=1.0).contains(&r) {
            bail!("--read-ratio must be between 0 and 1, not {r}");
        }
    }
    count(
        "--concurrency",
        c.concurrency as u64,
        1,
        MAX_CONCURRENCY as u64,
    )?;
    count("--replicas", c.replicas as u64, 0, MAX_REPLICAS as u64)?;
    count("--sentinels", c.sentinels as u64, 0, MAX_SENTINELS as u64)?;
    if let Some(k) = c.keys {
        count("--keys", k as u64, 1, MAX_KEYS as u64)?;
    }
    if let Some(n) = c.set_size {
        count("--set-size", n as u64, 1, MAX_SET_SIZE as u64)?;
    }
    count(
        "--max-txn-length",
        c.max_txn_length as u64,
        1,
        MAX_TXN_LENGTH as u64,
    )?;
    count("--wait-replicas", c.wait_replicas, 0, MAX_REPLICAS as u64)?;
    count("--waitaof-local", c.waitaof_local, 0, 1)?;
    count(
        "--waitaof-replicas",
        c.waitaof_replicas,
        0,
        MAX_REPLICAS as u64,
    )?;
    millis("--op-timeout", c.op_timeout, 1, MAX_MS)?;
    // 0 is WAIT's "block until enough replicas answer": the operation timeout still bounds it.
    millis("--wait-timeout", c.wait_timeout, 0, MAX_MS)?;
    millis("--delay-ms", c.delay_ms, 0, MAX_DELAY_MS)?;
    millis("--delay-jitter-ms", c.delay_jitter_ms, 0, MAX_DELAY_MS)?;
    millis("--fsync-delay-ms", c.fsync_delay_ms, 0, MAX_DELAY_MS)?;
    millis("--sentinel-down-after", c.sentinel_down_after, 1, MAX_MS)?;
    millis(
        "--sentinel-failover-timeout",
        c.sentinel_failover_timeout,
        1,
        MAX_MS,
    )?;
    Ok(())
}

/// A positive, finite number of seconds, at most `max`.
pub fn seconds(flag: &str, v: f64, max: f64) -> Result<()> {
    if !(v.is_finite() && v > 0.0 && v <= max) {
        bail!("{flag} must be a number of seconds above 0 and at most {max}, not {v}");
    }
    Ok(())
}

/// An integer between `min` and `max`.
pub fn count(flag: &str, v: u64, min: u64, max: u64) -> Result<()> {
    if !(min..=max).contains(&v) {
        bail!("{flag} must be between {min} and {max}, not {v}");
    }
    Ok(())
}

/// A number of milliseconds between `min` and `max`.
pub fn millis(flag: &str, v: u64, min: u64, max: u64) -> Result<()> {
    if !(min..=max).contains(&v) {
        bail!("{flag} must be between {min} and {max} milliseconds, not {v}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(change: impl FnOnce(&mut TestConfig)) -> String {
        let mut c = TestConfig::default();
        change(&mut c);
        check(&c).unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_are_in_range() {
        check(&TestConfig::default()).unwrap();
    }

    /// Each of these passed validation before and panicked or grew without bound later.
    #[test]
    fn values_that_used_to_panic_later_are_refused_naming_the_option_and_range() {
        let cases: Vec<(String, &str)> = vec![
            (refused(|c| c.time_limit = 1e20), "--time-limit"),
            (refused(|c| c.converge_timeout = 1e20), "--converge-timeout"),
            (refused(|c| c.keys = Some(usize::MAX)), "--keys"),
            (refused(|c| c.set_size = Some(0)), "--set-size"),
            (refused(|c| c.set_size = Some(usize::MAX)), "--set-size"),
            (
                refused(|c| c.max_txn_length = usize::MAX),
                "--max-txn-length",
            ),
            (refused(|c| c.rate = 1e-300), "--rate"),
            (refused(|c| c.rate = f64::INFINITY), "--rate"),
            (
                refused(|c| c.nemesis_interval = f64::NAN),
                "--nemesis-interval",
            ),
            (
                refused(|c| c.fault_duration = Some(1e300)),
                "--fault-duration",
            ),
            (refused(|c| c.op_timeout = u64::MAX), "--op-timeout"),
            (
                refused(|c| c.sentinel_down_after = u64::MAX),
                "--sentinel-down-after",
            ),
            (refused(|c| c.read_ratio = Some(f64::NAN)), "--read-ratio"),
        ];
        for (message, flag) in cases {
            assert!(message.starts_with(flag), "{message}");
            assert!(
                message.contains("between") || message.contains("at most"),
                "{message}"
            );
        }
    }
}
