//! Whether a stored history's analysis fits in this machine's memory, told before the analysis
//! starts rather than by the kernel's OOM killer halfway through it.
//!
//! The checkers hold the whole parsed history (about 255 bytes a record for the set workload,
//! some 1.9 times the record's text) and their own indexes on top (the lost-writes checker
//! about 40% more). A 10-minute run at full speed writes tens of millions of records: its
//! analysis can need more memory than the machine has, and a process the kernel kills for it
//! exits with no verdict, no results and no explanation, which breaks the exit-code contract
//! (2: could not decide) that a CI job relies on.
//!
//! So, for a large JSON-lines history, [`ensure_fits`] parses a prefix (1/16 of the file,
//! 64-512 MiB, and never more than 1/16 of the memory available) the way the caller will read
//! the whole ([`Reader`]), measures how much resident memory that took, projects it to the
//! whole file with a margin for the checkers' own structures, and refuses with a clear error
//! when the projection exceeds the memory the machine has available. The history stays on
//! disk, whole, for `redline check` on a larger machine.
//!
//! The projection can only err towards letting an analysis start: freed memory that the parse
//! reuses is returned to the kernel first (`malloc_trim`), and anything else that makes the
//! measured growth smaller makes the projection smaller. When it cannot measure (not Linux, a
//! gzipped or non-line format whose prefix does not parse), it says nothing and the analysis
//! goes ahead.

use super::read_once::read_once;
use anyhow::{bail, Result};
use redline_checkers::history::input::Limits;
use redline_checkers::history::jsonl;
use std::io::Read;
use std::path::Path;

/// How the caller will read the history, so that the prefix is measured in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Every record as an `Op` ([`jsonl::read`]): `redline test` and `redline report`.
    Records,
    /// Transactions compact, the rest as records ([`read_once`]): `redline check`.
    Once,
}

/// Below this, a history's analysis is not worth projecting (at most a few GB).
const SMALL: u64 = 256 << 20;
/// How much more than the parsed history the checkers need at their peak, measured on the set
/// workload (lost-writes' indexes add about 40%: 1.36 on a 60 s run under kill,pause).
const CHECKERS_MARGIN: f64 = 1.4;
/// Set `REDLINE_MEMORY_CHECK=off` to analyse whatever the projection says.
const SWITCH: &str = "REDLINE_MEMORY_CHECK";

/// Refuses (with what it would need and what there is) when analysing the history at `path`
/// would not fit in the memory this machine has available; see the module doc.
pub fn ensure_fits(path: &Path, reader: Reader) -> Result<()> {
    if std::env::var(SWITCH).is_ok_and(|v| v == "off") || path == Path::new("-") {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // reading it will say what is wrong
    };
    let total = meta.len();
    if !meta.is_file() || total < SMALL {
        return Ok(());
    }
    let Some(available) = available_bytes() else {
        return Ok(());
    };
    let Some(per_byte) = measure(path, total, available, reader) else {
        return Ok(());
    };
    judge(path, total, available, per_byte)
}

/// The decision, from the figures: a history of `total` bytes whose prefix took `per_byte`
/// resident bytes per byte, on a machine with `available` bytes.
fn judge(path: &Path, total: u64, available: u64, per_byte: f64) -> Result<()> {
    let needed = per_byte * total as f64 * CHECKERS_MARGIN;
    if needed <= available as f64 {
        return Ok(());
    }
    // A run folder's history: `redline report` there writes the run's results and report too.
    let report = match path.parent() {
        Some(dir) if dir.join("test.json").is_file() => {
            format!(
                ", or `redline report {}` for the run's outputs",
                dir.display()
            )
        }
        _ => String::new(),
    };
    bail!(
        "analysing {} ({}) would need about {} of memory, and this machine has {} available: \
         nothing was analysed, so the verdict is unknown. The history is whole on disk: check it \
         on a machine with more memory (`redline check {}`{report}), or bound a run's \
         operations (--rate, --time-limit). ({}=off analyses anyway.)",
        path.display(),
        gb(total as f64),
        gb(needed),
        gb(available as f64),
        path.display(),
        SWITCH,
    )
}

/// Resident bytes the parse of a prefix of `path` took, per byte of the prefix; `None` when it
/// cannot tell. The prefix is small next to the memory `available`, so that measuring cannot
/// itself exhaust it.
fn measure(path: &Path, total: u64, available: u64, reader: Reader) -> Option<f64> {
    let want = (total / 16).clamp(64 << 20, 512 << 20).min(available / 16);
    let mut prefix = Vec::with_capacity(want as usize);
    std::fs::File::open(path)
        .ok()?
        .take(want)
        .read_to_end(&mut prefix)
        .ok()?;
    // Whole lines only: the prefix must parse as a (shorter) history of its own.
    let end = prefix.iter().rposition(|&b| b == b'\n')? + 1;
    prefix.truncate(end);
    trim_heap();
    let before = resident_bytes()?;
    // Kept alive until measured, whichever form it was read in.
    let parsed: Box<dyn std::any::Any> = match reader {
        Reader::Records => Box::new(jsonl::read(&prefix[..]).ok()?),
        Reader::Once => Box::new(read_once(&prefix[..], Limits::default()).ok()?),
    };
    let after = resident_bytes()?;
    drop(parsed);
    trim_heap();
    Some(after.saturating_sub(before) as f64 / end as f64)
}

/// Gives free heap pages back to the kernel, so that a parse that reuses them shows up in the
/// resident size instead of hiding in memory already counted.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the kernel; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// This process's resident memory, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The memory the kernel says new work can have (`MemAvailable`).
fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_available(&meminfo)
}

fn parse_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn gb(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn available_memory_is_read_from_meminfo() {
        let meminfo = "MemTotal:       24684852 kB\nMemFree:        1000 kB\n\
                       MemAvailable:   23457400 kB\nBuffers: 1 kB\n";
        assert_eq!(parse_available(meminfo), Some(23_457_400 * 1024));
        assert_eq!(parse_available("MemTotal: 5 kB\n"), None);
    }

    /// The 10-minute soak that the kernel killed at 24 GB (7.8 GB of history, parsed at 2.8
    /// resident bytes per byte before records were made compact) is refused on 24 GB, with
    /// what to do; the same soak at today's 1.9 bytes per byte goes ahead.
    #[test]
    fn a_history_too_large_for_the_machine_is_refused_with_what_to_do() {
        let path = Path::new("/store/soak/history.jsonl");
        let err = judge(path, 7_800_000_000, 24_000_000_000, 2.8).unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("would need about 30.6 GB"), "{text}");
        assert!(text.contains("24.0 GB available"), "{text}");
        assert!(text.contains("verdict is unknown"), "{text}");
        assert!(
            text.contains("redline check /store/soak/history.jsonl"),
            "{text}"
        );
        assert!(judge(path, 7_300_000_000, 23_700_000_000, 1.9).is_ok());
    }

    #[test]
    fn a_small_history_is_not_projected() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            f,
            "{{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}}"
        )
        .unwrap();
        assert!(ensure_fits(f.path(), Reader::Records).is_ok());
        assert!(ensure_fits(Path::new("-"), Reader::Once).is_ok());
    }

    /// The measurement on a real prefix: parsing records takes resident memory, more than
    /// their text, and a prefix that does not parse (here, not a history) gives no figure.
    #[test]
    fn a_parsed_prefix_is_measured_and_an_unparsable_one_is_not() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for i in 0..200_000u64 {
            let (t, kind) = if i % 2 == 0 {
                ("invoke", "")
            } else {
                ("ok", ",\"node\":\"n1\"")
            };
            writeln!(
                f,
                "{{\"index\":{i},\"time\":{i},\"process\":{},\"type\":\"{t}\",\"f\":\"add\",\
                 \"key\":\"set{}\",\"value\":{}{kind}}}",
                (i / 2) % 10,
                i / 200,
                i / 2
            )
            .unwrap();
        }
        f.flush().unwrap();
        let size = f.as_file().metadata().unwrap().len();
        let plenty = 16 << 30;
        for reader in [Reader::Records, Reader::Once] {
            let per_byte = measure(f.path(), size, plenty, reader).expect("a prefix is measured");
            assert!(
                per_byte > 1.0,
                "{reader:?}: {per_byte} resident bytes per byte of text"
            );
        }

        let mut junk = tempfile::NamedTempFile::new().unwrap();
        writeln!(junk, "this is not a history").unwrap();
        assert_eq!(measure(junk.path(), 100, plenty, Reader::Records), None);
    }
}
