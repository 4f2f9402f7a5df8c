//! A mutation fuzzer over the shipped suite files (`suites/*.toml`): thousands of damaged
//! variants — bad values, unknown keys, duplicated tables, huge and negative numbers, wrong
//! types, truncation, stray bytes — must each be accepted or refused with an error, never a
//! panic and never a hang; and rewrites that keep the meaning (CRLF line ends, blank lines,
//! comments, keys of a table in another order) must read as the same suite.
//!
//! Bounded: a fixed number of mutations per file, a deadline for the whole test, and a watchdog
//! that fails the test if one parse takes longer than a few seconds.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redline::suite::file::{parse, SuiteFile};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const MUTATIONS_PER_FILE: usize = 250;
const WHOLE_BUDGET: Duration = Duration::from_secs(30);
const ONE_PARSE_BUDGET: Duration = Duration::from_secs(5);

fn suite_files() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no suite files under {}", dir.display());
    files
}

/// What a parse says, comparably: the suite and each test's name, repeats and options (lines
/// aside, which a rewrite may shift), or the error without its line.
fn meaning(result: &Result<SuiteFile, redline::suite::SuiteFileError>) -> String {
    match result {
        Ok(s) => {
            let tests: Vec<String> = s
                .tests
                .iter()
                .map(|t| format!("{} x{} {:?}", t.name, t.repeat, t.config))
                .collect();
            format!("ok {} {tests:?}", s.name)
        }
        Err(e) => format!("error {:?} {}", e.key, e.message),
    }
}

/// Values that have broken parsers: huge, negative, fractional, non-finite, wrong types.
const BAD_VALUES: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "-9223372036854775808",
    "1e308",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "0",
    "0.0",
    "\"\"",
    "\"18446744073709551615\"",
    "\"latest\"",
    "\"../escape\"",
    "\"a\\nb\"",
    "true",
    "[]",
    "[1, \"x\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "'''multi\nline'''",
];

const STRAY: &[&str] = &[
    "[defaults]",
    "[[test]]",
    "[test]",
    "[[defaults]]",
    "name = \"dup\"",
    "unknown-key = 1",
    "replicaz = 2",
    "store = \"/tmp\"",
    "repeat = 100000",
    "=",
    "\"",
    "[[",
    "\u{0}",
    "\u{feff}",
    "key = ",
    "a.b.c = 1",
    "redis-option = [\"dir=/\"]",
    "redis-option = [\"appendonly=yes\\nbind 0.0.0.0\"]",
];

/// One destructive mutation of `text`.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let i = rng.gen_range(0..lines.len());
    match rng.gen_range(0..7) {
        // A value replaced by a bad one.
        0 => {
            if let Some((key, _)) = lines[i].clone().split_once('=') {
                let bad = BAD_VALUES.choose(rng).copied().unwrap_or("0");
                lines[i] = format!("{key}= {bad}");
            }
        }
        // A stray line inserted.
        1 => lines.insert(i, STRAY.choose(rng).copied().unwrap_or("").to_string()),
        // A line deleted, or duplicated (duplicate keys and tables).
        2 => {
            lines.remove(i);
        }
        3 => {
            let line = lines[i].clone();
            lines.insert(i, line);
        }
        // A whole table duplicated.
        4 => {
            let start = (0..=i).rev().find(|&j| lines[j].starts_with('['));
            if let Some(start) = start {
                let end = (start + 1..lines.len())
                    .find(|&j| lines[j].starts_with('['))
                    .unwrap_or(lines.len());
                let table: Vec<String> = lines[start..end].to_vec();
                lines.extend(table);
            }
        }
        // Truncated anywhere, even mid-character.
        5 => {
            let bytes = text.as_bytes();
            let cut = rng.gen_range(0..bytes.len());
            return String::from_utf8_lossy(&bytes[..cut]).into_owned();
        }
        // A number made enormous.
        _ => {
            let digits: String = (0..rng.gen_range(20..400)).map(|_| '9').collect();
            lines[i] = lines[i].replace(|c: char| c.is_ascii_digit(), &digits);
        }
    }
    let mut out = lines.join("\n");
    if rng.gen_bool(0.3) {
        out = out.replace('\n', "\r\n");
    }
    out
}

/// Rewrites that keep the meaning: CRLF, blank lines and comments between lines, and the keys
/// of each table (outside multi-line values) in reverse order.
fn rewrites(text: &str) -> Vec<String> {
    let crlf = text.replace('\n', "\r\n");
    let spaced: String = text
        .lines()
        .map(|l| format!("{l}\n\n# a comment\n"))
        .collect();
    vec![crlf, spaced, reorder_keys(text)]
}

fn reorder_keys(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let flush = |block: &mut Vec<String>, out: &mut Vec<String>| {
        block.reverse();
        out.append(block);
    };
    for line in text.lines() {
        let is_key = line.contains('=') && !line.starts_with('#') && !line.starts_with('[');
        if is_key && !line.trim_end().ends_with('[') {
            block.push(line.to_string());
        } else {
            flush(&mut block, &mut out);
            out.push(line.to_string());
        }
    }
    flush(&mut block, &mut out);
    out.join("\n") + "\n"
}

/// Parses on a worker thread so that a hang fails the test instead of stalling it.
struct Parser {
    jobs: mpsc::Sender<(PathBuf, String)>,
    results: mpsc::Receiver<Result<String, String>>,
}

impl Parser {
    fn start() -> Parser {
        let (jobs, job_rx) = mpsc::channel::<(PathBuf, String)>();
        let (result_tx, results) = mpsc::channel();
        std::thread::spawn(move || {
            for (path, text) in job_rx {
                let parsed = std::panic::catch_unwind(|| meaning(&parse(&path, &text)));
                let sent = result_tx.send(parsed.map_err(|_| text));
                if sent.is_err() {
                    return;
                }
            }
        });
        Parser { jobs, results }
    }

    /// The meaning of `text`; fails the test on a panic or a hang.
    fn parse(&self, path: &Path, text: &str) -> String {
        self.jobs
            .send((path.to_path_buf(), text.to_string()))
            .unwrap();
        match self.results.recv_timeout(ONE_PARSE_BUDGET) {
            Ok(Ok(meaning)) => meaning,
            Ok(Err(text)) => panic!("parsing panicked on:\n{text}"),
            Err(_) => panic!("parsing took over {ONE_PARSE_BUDGET:?} on:\n{text}"),
        }
    }
}

#[test]
fn rewrites_that_keep_meaning_read_the_same() {
    let parser = Parser::start();
    for (path, text) in suite_files() {
        let original = parser.parse(&path, &text);
        assert!(original.starts_with("ok"), "{}: {original}", path.display());
        for rewritten in rewrites(&text) {
            assert_eq!(
                parser.parse(&path, &rewritten),
                original,
                "{} rewritten:\n{rewritten}",
                path.display()
            );
        }
    }
}

#[test]
fn mutated_suite_files_never_panic_or_hang() {
    let parser = Parser::start();
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let (mut accepted, mut refused) = (0, 0);
    for (path, text) in suite_files() {
        for _ in 0..MUTATIONS_PER_FILE {
            if started.elapsed() > WHOLE_BUDGET {
                break;
            }
            let mut mutated = mutate(&text, &mut rng);
            for _ in 0..rng.gen_range(0..3) {
                mutated = mutate(&mutated, &mut rng);
            }
            if parser.parse(&path, &mutated).starts_with("ok") {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
    }
    eprintln!(
        "{accepted} mutated suites accepted, {refused} refused, in {:.1?}",
        started.elapsed()
    );
    assert!(
        refused > 0 && accepted > 0,
        "the mutations exercise both outcomes"
    );
}
