//! The command line (docs/design.md, and `redline --help`). Each subcommand is a function in
//! [`crate::commands`].

use crate::config::TestConfig;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Jepsen-style consistency testing for Redis master-replica replication.
///
/// Exit status: 0 every expectation held; 1 an anomaly broke an expectation; 2 could not run or
/// could not decide (bad input, setup failure, an `unknown` verdict, an interrupted run).
#[derive(Debug, Parser)]
#[command(name = "redline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a cluster, run a workload under faults, check the history.
    Test(Box<TestArgs>),
    /// Check a stored history: redline's, or Jepsen's, Knossos's and Elle's as they are.
    ///
    /// Read once from a file, a pipe or `-` (standard input). Formats, told apart by their
    /// content: JSON lines (redline's history.jsonl, Elle's and elle-cli's), a JSON array of
    /// ops (elle-cli's .json), EDN (Jepsen's history.edn, one map per line, or one vector of
    /// maps as Knossos and Elle write them), and gzip of any of these. Keywords become
    /// strings; `error` may be any value; jepsen.independent [key value] tuples are split into
    /// key and value.
    ///
    /// Real-time order is by `time` when every op has one, else by the order of the ops in the
    /// history (Elle's rule); results.json's `input.realtime_order` says which.
    ///
    /// Models (--workload; default: told from the ops): register (Knossos cas-register),
    /// counter (Jepsen's add/read counter, redline's incr), set (Jepsen's set and set-full),
    /// list-append (Elle), rw-register (Elle), wait, waitaof. Transactional verdicts follow
    /// Elle's: --consistency-models, `not` / `also-not`, Elle's anomaly names.
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
    /// Re-render results.json, report.html and junit.xml of a run folder, without the cluster.
    Report(ReportArgs),
    /// List past runs, newest first.
    Runs(RunsArgs),
    /// Stop every server process that a killed run left behind.
    Cleanup(RunsArgs),
    /// List the server binaries found (PATH, $REDLINE_REDIS_SERVER, .servers/) and probe each.
    Servers(crate::commands::servers::ServersArgs),
    /// Run the tests of a suite file (TOML), each repeated, and give one verdict (CI gate).
    Suite(SuiteArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub config: TestConfig,
    /// Print results.json to stdout instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// Run the test N times, run i with seed + i; report the detection rate with its 95%
    /// interval; exit as a suite of one test would.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u64,
}

/// The arguments of `redline check` (see [`Command::Check`]).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history: a path (file, FIFO, /dev/stdin) or - for standard input.
    pub history: PathBuf,
    /// The model to check against (default: told from the operations): register (Knossos
    /// cas-register), counter (add/incr and reads of the total), set (Jepsen set/set-full),
    /// list-append (Elle), rw-register (Elle), wait, waitaof.
    #[arg(long, value_name = "MODEL")]
    pub workload: Option<String>,
    /// Comma list of checkers (default: the workload's), e.g. lost-writes,availability.
    #[arg(long)]
    pub checkers: Option<String>,
    /// What must hold (repeatable); default: every checker valid.
    #[arg(long = "expect", value_name = "RULE")]
    pub expect: Vec<String>,
    /// Whether reads were served by the master (decides whether linearizability applies).
    #[arg(long)]
    pub reads_from_master: Option<bool>,
    /// Print results.json to stdout instead of the summary table.
    #[arg(long)]
    pub json: bool,
    /// Consistency models a transactional history must satisfy, comma separated, in Elle's
    /// names (read-committed, snapshot-isolation, serializable, strict-serializable, ...):
    /// an anomaly they prohibit makes it invalid. Default: strict-serializable.
    #[arg(long, value_name = "M,...")]
    pub consistency_models: Option<String>,
    /// rw-register: assume each key is sequentially consistent (process order orders its
    /// versions).
    #[arg(long)]
    pub sequential_keys: bool,
    /// rw-register: assume each key is linearizable (real-time order orders its versions).
    #[arg(long)]
    pub linearizable_keys: bool,
    /// rw-register: assume writes follow reads within a transaction.
    #[arg(long)]
    pub wfr_keys: bool,
    /// Give up when the input sends no byte for this many seconds (a FIFO nobody writes to).
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    pub read_timeout: f64,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run folder (e.g. store/latest).
    pub run_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// The store folder.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// The suite file: `[defaults]` and `[[test]]` tables (see docs/ci.md).
    pub file: PathBuf,
    /// Run only this test (repeatable).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Start no new run once this many seconds have passed; runs not started are reported as
    /// not run and make the suite exit 2 (unless a test broke: 1).
    #[arg(long, value_name = "S")]
    pub time_budget: Option<f64>,
    /// Where run folders go; the suite's own folder is <store>/suites/<suite>/<time>.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Base seed of tests that set none (default: from the clock; recorded in suite.json).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print suite.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}
