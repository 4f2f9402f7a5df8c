//! redline: a Jepsen-style consistency testing harness for Redis master-replica replication.
//!
//! The life of a run is one pipeline in [`runner`]: set up the cluster, run the workload's
//! clients and the nemesis while recording the history, heal, converge, take final reads, tear
//! down, check, report. The parts:
//!
//! - [`cli`]: the command line (`test`, `check`, `report`, `runs`, `suite`, `cleanup`).
//! - [`config`]: a test's options, as written to `test.json`; their ranges; the reproduce
//!   command derived from them.
//! - [`provision`]: finding (or installing) the server binaries.
//! - [`cluster`]: processes, proxies, link rules, Sentinel; the fault capability traits.
//! - [`nemesis`]: the seeded fault schedule and how each fault is applied and healed.
//! - [`runner`]: the pipeline, the case (clients and nemesis), telemetry, the final phase,
//!   which planned parts ran (a run is valid only when all did), saving the outputs.
//! - [`recorder`]: the live, flushed `history.jsonl`.
//! - [`store`]: run folders, `store/latest`, the list of past runs.
//! - [`shutdown`]: Ctrl-C / SIGTERM as a token every task watches.
//! - [`suite`]: suite files, repeated runs, detection rates, the CI gate.
//!
//! Analysis lives in `redline-checkers`, workloads in `redline-workloads`, outputs in
//! `redline-reports`; this crate orchestrates and never re-implements them. The design, the
//! history format and every verdict's meaning: `docs/design.md`.

pub mod analysis;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod nemesis;
pub mod provision;
pub mod recorder;
pub mod runner;
pub mod shutdown;
pub mod store;
pub mod suite;
