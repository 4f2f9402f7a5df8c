//! Checker names, which checkers suit which workload or model, and running a selection of
//! them, each isolated from the others' failures.

use crate::history::{Function, History};
use crate::result::{CheckResult, Results};
use crate::txn_cycles::micro_op::{MopKind, Txns};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The workloads whose histories redline knows how to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Set,
    Register,
    Counter,
    Wait,
    WaitAof,
    ListAppend,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 6] = [
        WorkloadKind::Set,
        WorkloadKind::Register,
        WorkloadKind::Counter,
        WorkloadKind::Wait,
        WorkloadKind::WaitAof,
        WorkloadKind::ListAppend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Set => "set",
            WorkloadKind::Register => "register",
            WorkloadKind::Counter => "counter",
            WorkloadKind::Wait => "wait",
            WorkloadKind::WaitAof => "waitaof",
            WorkloadKind::ListAppend => "list-append",
        }
    }

    /// Guesses the workload of a history from its operations: `txn` is list-append, `incr` is
    /// counter, adds carrying WAITAOF/WAIT are waitaof/wait, `add` is set, `write`/`cas` is
    /// register. `None` for a history with no client operations.
    pub fn detect(history: &History) -> Option<WorkloadKind> {
        let mut seen = None;
        for op in history.operations() {
            let kind = match op.invoke.f {
                Function::Txn => WorkloadKind::ListAppend,
                Function::Incr => WorkloadKind::Counter,
                Function::Add | Function::Write if op.invoke.waitaof.is_some() => {
                    WorkloadKind::WaitAof
                }
                Function::Add | Function::Write if op.invoke.wait.is_some() => WorkloadKind::Wait,
                Function::Add => WorkloadKind::Set,
                Function::Write | Function::Cas => WorkloadKind::Register,
                _ => continue,
            };
            // The most specific kind wins (a wait history also has plain reads).
            seen = Some(kind);
            if kind != WorkloadKind::Register && kind != WorkloadKind::Set {
                break;
            }
        }
        seen
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkloadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WorkloadKind::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = WorkloadKind::ALL.iter().map(|w| w.as_str()).collect();
                format!(
                    "unknown workload {s:?} (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// What a history is a history of: one of redline's workloads, or a model of Jepsen's and
/// Elle's checkers that `redline check` reads (`--workload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// A workload of `redline test` (set, register, counter, wait, waitaof, list-append).
    Workload(WorkloadKind),
    /// Elle's rw-register: transactions of register writes and reads.
    RwRegister,
}

impl Model {
    /// Every name `--workload` accepts in `redline check`.
    pub fn names() -> Vec<&'static str> {
        let mut v: Vec<_> = WorkloadKind::ALL.iter().map(|w| w.as_str()).collect();
        v.push("rw-register");
        v
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Model::Workload(w) => w.as_str(),
            Model::RwRegister => "rw-register",
        }
    }

    /// Tells the model of a history from its operations ([`WorkloadKind::detect`]), and of
    /// its transactions when they are register writes and reads rather than appends.
    /// rw-register when transactions write registers and append to no list.
    pub fn detect_txns(txns: &Txns) -> Option<Model> {
        is_rw_register(txns).then_some(Model::RwRegister)
    }

    /// A history of `add`s whose reads return a number, not a set, is Jepsen's counter.
    pub fn detect(history: &History, txns: Option<&Txns>) -> Option<Model> {
        let workload = WorkloadKind::detect(history)?;
        if workload == WorkloadKind::ListAppend && txns.is_some_and(is_rw_register) {
            return Some(Model::RwRegister);
        }
        if workload == WorkloadKind::Set && reads_numbers(history) {
            return Some(Model::Workload(WorkloadKind::Counter));
        }
        Some(Model::Workload(workload))
    }

    /// The workload, when the model is one of redline's.
    pub fn workload(self) -> Option<WorkloadKind> {
        match self {
            Model::Workload(w) => Some(w),
            Model::RwRegister => None,
        }
    }
}

/// Whether the history's successful reads return numbers (a counter's total).
fn reads_numbers(history: &History) -> bool {
    history
        .operations()
        .filter(|o| o.invoke.f == Function::Read && o.outcome() == crate::history::OpType::Ok)
        .filter_map(|o| o.completion)
        .find(|c| !c.value.is_null())
        .is_some_and(|c| c.value.is_number())
}

/// Transactions that write registers and append to no list.
fn is_rw_register(txns: &Txns) -> bool {
    let mut writes = false;
    for m in &txns.mops {
        match m.kind {
            MopKind::Append(_) => return false,
            MopKind::Write(_) | MopKind::ReadValue(_) => writes = true,
            _ => {}
        }
    }
    writes
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "rw-register" {
            return Ok(Model::RwRegister);
        }
        WorkloadKind::from_str(s).map(Model::Workload).map_err(|_| {
            format!(
                "unknown workload {s:?} (expected one of {})",
                Model::names().join(", ")
            )
        })
    }
}

/// Every checker, by its name in `results.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckerName {
    LostWrites,
    StaleReads,
    Session,
    Wait,
    Counter,
    Linearizable,
    TxnCycles,
    RwRegister,
    Availability,
    SplitBrain,
}

impl CheckerName {
    pub const ALL: [CheckerName; 10] = [
        CheckerName::LostWrites,
        CheckerName::StaleReads,
        CheckerName::Session,
        CheckerName::Wait,
        CheckerName::Counter,
        CheckerName::Linearizable,
        CheckerName::TxnCycles,
        CheckerName::RwRegister,
        CheckerName::Availability,
        CheckerName::SplitBrain,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CheckerName::LostWrites => "lost-writes",
            CheckerName::StaleReads => "stale-reads",
            CheckerName::Session => "session",
            CheckerName::Wait => "wait",
            CheckerName::Counter => "counter",
            CheckerName::Linearizable => "linearizable",
            CheckerName::TxnCycles => "txn-cycles",
            CheckerName::RwRegister => "rw-register",
            CheckerName::Availability => "availability",
            CheckerName::SplitBrain => "split-brain",
        }
    }

    /// The checkers that suit a workload. Linearizability is only meaningful when reads are
    /// served by the master: replica reads are expected to be stale under asynchronous
    /// replication, so the checker is skipped for them (see [`CheckOptions::reads_from_master`]).
    pub fn defaults_for(workload: WorkloadKind) -> Vec<CheckerName> {
        use CheckerName::*;
        let mut v = match workload {
            WorkloadKind::Set => vec![LostWrites],
            WorkloadKind::Register => vec![StaleReads, Session, Linearizable],
            WorkloadKind::Counter => vec![Counter],
            WorkloadKind::Wait | WorkloadKind::WaitAof => vec![LostWrites, Wait],
            WorkloadKind::ListAppend => vec![TxnCycles],
        };
        v.extend([SplitBrain, Availability]);
        v
    }

    /// The checkers that suit a model.
    pub fn defaults_for_model(model: Model) -> Vec<CheckerName> {
        match model {
            Model::Workload(w) => CheckerName::defaults_for(w),
            Model::RwRegister => vec![
                CheckerName::RwRegister,
                CheckerName::SplitBrain,
                CheckerName::Availability,
            ],
        }
    }

    /// Parses a comma list of checker names.
    pub fn parse_list(list: &str) -> Result<Vec<CheckerName>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(CheckerName::from_str)
            .collect()
    }
}

impl fmt::Display for CheckerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckerName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CheckerName::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = CheckerName::ALL.iter().map(|c| c.as_str()).collect();
                format!(
                    "unknown checker {s:?} (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// Knobs shared by the checkers. Defaults suit a live run.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// How many worst cases a checker lists in full (stale reads, slowest visibility, ...).
    pub worst_n: usize,
    /// Whether client reads were served by the master (`--read-from master`); linearizability
    /// is skipped otherwise. `None` means unknown (a stored history): the checker decides from
    /// the history itself.
    pub reads_from_master: Option<bool>,
    /// Wall-clock budget for the linearizability search over all keys.
    pub linearizable_time_budget: Duration,
    /// Memory budget for the linearizability search cache, in bytes.
    pub linearizable_memory_budget: usize,
    /// Wall-clock budget per strongly connected component for the txn-cycles search.
    pub txn_scc_time_budget: Duration,
    /// `--expect wait-durable=N`: a lost write that WAIT reported as acknowledged by at least
    /// this many replicas is a `wait-durable-lost` anomaly. `None`: the number each write's WAIT
    /// asked for.
    pub wait_durable: Option<u64>,
    /// `--expect waitaof-durable=R`: likewise for WAITAOF's replica count.
    pub waitaof_durable: Option<u64>,
    /// `--consistency-models`: the models a transactional history must satisfy (Elle's
    /// names); an anomaly they prohibit is invalid. Default `strict-serializable`, as Elle.
    pub consistency_models: Vec<String>,
    /// rw-register's key assumptions, from which it infers version orders (Elle's options).
    pub key_assumptions: KeyAssumptions,
}

/// What rw-register may assume of each key to order its versions (Elle's
/// `:sequential-keys?`, `:linearizable-keys?`, `:wfr-keys?`). None is assumed by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyAssumptions {
    /// Each key is sequentially consistent: a process's transactions see its versions in order.
    pub sequential: bool,
    /// Each key is linearizable: real-time order orders its versions.
    pub linearizable: bool,
    /// Within a transaction, writes follow reads: a read version precedes the written one.
    pub writes_follow_reads: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            worst_n: 10,
            reads_from_master: None,
            linearizable_time_budget: Duration::from_secs(60),
            linearizable_memory_budget: 2 << 30,
            txn_scc_time_budget: Duration::from_secs(30),
            wait_durable: None,
            waitaof_durable: None,
            consistency_models: vec!["strict-serializable".to_string()],
            key_assumptions: KeyAssumptions::default(),
        }
    }
}

/// Runs one checker, isolated ([`isolated`]).
///
/// The time budgets are the only place a checker looks at a clock; they bound how long it may
/// search and never change a verdict to `true` (an exhausted budget gives `unknown`).
pub fn run_one(name: CheckerName, history: &History, opts: &CheckOptions) -> CheckResult {
    isolated(name, || run_unisolated(name, history, opts))
}

/// Runs `check`, the work of checker `name`, so that a panic in it (a bug) costs only its own
/// verdict: the result is then `unknown`, with the panic's message in its notes, and every
/// other checker of the run still reports.
pub fn isolated(name: CheckerName, check: impl FnOnce() -> CheckResult) -> CheckResult {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            CheckResult::unknown(format!(
                "the {name} checker failed with a bug (panic: {message}); its verdict is \
                 unknown. Please report it with the history."
            ))
        }
    }
}

fn run_unisolated(name: CheckerName, history: &History, opts: &CheckOptions) -> CheckResult {
    match name {
        CheckerName::LostWrites => crate::lost_writes::check(history, opts),
        CheckerName::StaleReads => crate::stale_reads::check(history, opts),
        CheckerName::Session => crate::session::check(history, opts),
        CheckerName::Wait => crate::wait::check(history, opts),
        CheckerName::Counter => crate::counter::check(history, opts),
        CheckerName::Linearizable => crate::linearizable::check(history, opts),
        CheckerName::TxnCycles => crate::txn_cycles::check(history, opts),
        CheckerName::RwRegister => crate::rw_register::check(history, opts),
        CheckerName::Availability => crate::availability::check(history, opts),
        CheckerName::SplitBrain => crate::split_brain::check(history, opts),
    }
}

/// Runs a selection of checkers, each isolated, and composes their verdicts.
pub fn run(names: &[CheckerName], history: &History, opts: &CheckOptions) -> Results {
    let checkers: BTreeMap<String, CheckResult> = names
        .iter()
        .map(|&n| (n.as_str().to_string(), run_one(n, history, opts)))
        .collect();
    Results::new(checkers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Validity;
    use std::collections::BTreeMap;

    #[test]
    fn a_panicking_checker_is_unknown_and_the_others_still_report() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let broken = isolated(CheckerName::TxnCycles, || panic!("index out of bounds: 7"));
        let fine = isolated(CheckerName::Availability, || {
            CheckResult::from_anomalies(Vec::new(), Default::default())
        });
        std::panic::set_hook(quiet);
        assert_eq!(broken.valid, Validity::Unknown);
        assert!(
            broken.notes[0].contains("index out of bounds: 7"),
            "{:?}",
            broken.notes
        );
        let mut all = BTreeMap::new();
        all.insert("txn-cycles".to_string(), broken);
        all.insert("availability".to_string(), fine);
        let results = Results::new(all);
        assert_eq!(results.valid, Validity::Unknown);
        assert_eq!(results.checkers["availability"].valid, Validity::Valid);
    }
}
