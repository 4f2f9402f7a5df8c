//! `test.json`: everything needed to understand and replay a run: every option, the seed, the
//! fault schedule, the server and how long it took. Written when the run starts (so even a
//! crashed run has it) and rewritten as facts arrive, each time whole (a temporary file renamed
//! over the old one, so a kill mid-write never leaves half a file).
//!
//! The finish record (`duration_ms`, `incomplete`, `interrupted`, `error`) is written when the
//! run ends; a file without one belongs to a run that was killed or is still going, and
//! `redline report` and `redline runs` treat it as incomplete. Secret server options are
//! redacted (see [`crate::config::reproduce`]).

use crate::cluster::admin::ServerIdentity;
use crate::cluster::backend::Backend;
use crate::config::reproduce;
use crate::config::{Plan, TestConfig};
use crate::nemesis::schedule::Step;
use crate::provision::ServerBinary;
use crate::runner::completeness::NO_FINISH_RECORD;
use crate::store::{RunDir, TEST_JSON};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The server the run used.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServerRecord {
    pub binary: String,
    /// How the binary was found (`--server-bin`, `PATH`, ...).
    pub source: String,
    /// `redis` or `valkey`, from INFO server.
    pub name: String,
    pub version: String,
}

/// The contents of `test.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestRecord {
    pub name: String,
    pub workload: String,
    pub nemesis: String,
    pub seed: u64,
    pub started_at: String,
    /// The command line that reproduces the run (seed included).
    pub command: String,
    pub config: TestConfig,
    /// The fault schedule derived from the seed.
    pub schedule: serde_json::Value,
    pub server: ServerRecord,
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub sentinels: Vec<String>,
    /// What the server supports, probed on the running master (WAITAOF, FAILOVER, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<crate::cluster::features::Features>,
    /// How long the run took; absent until it finished (no finish record: killed, or going).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why the run ended early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The run was cut short by a signal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The planned parts that did not run in full, each with its reason
    /// ([`crate::runner::completeness`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
}

impl TestRecord {
    pub fn new(plan: &Plan, server: &ServerBinary, steps: &[Step]) -> TestRecord {
        let config = TestConfig {
            seed: Some(plan.seed),
            ..plan.config.clone()
        };
        TestRecord {
            name: plan.name.clone(),
            workload: plan.workload.name().to_string(),
            nemesis: plan.nemesis.to_string(),
            seed: plan.seed,
            started_at: chrono::Utc::now().to_rfc3339(),
            command: reproduce::command(&config),
            config: reproduce::redacted(&config),
            schedule: serde_json::to_value(steps).unwrap_or_default(),
            server: ServerRecord {
                binary: server.path.display().to_string(),
                source: server.source.to_string(),
                ..ServerRecord::default()
            },
            nodes: Vec::new(),
            sentinels: Vec::new(),
            features: None,
            duration_ms: None,
            error: None,
            interrupted: false,
            incomplete: Vec::new(),
        }
    }

    pub fn set_server<B: Backend>(&mut self, cluster: &B) {
        let ServerIdentity { name, version } = cluster.server().clone();
        self.server.name = name;
        self.server.version = version;
        self.nodes = cluster.node_names();
        self.sentinels = cluster.sentinel_names();
    }

    /// The finish record: how long the run took, why it failed (if it did), whether a signal
    /// cut it short, and which planned parts did not run.
    pub fn finish(
        &mut self,
        took: Duration,
        error: Option<String>,
        interrupted: bool,
        incomplete: &[String],
    ) {
        self.duration_ms = Some(took.as_millis() as u64);
        self.error = error;
        self.interrupted = interrupted;
        self.incomplete = incomplete.to_vec();
    }

    /// The parts of the run that did not run, as `report` and `runs` must treat them: the
    /// recorded list; for a record without a finish record, that fact; for an older record
    /// that only kept an error, the error.
    pub fn incomplete_parts(&self) -> Vec<String> {
        if self.duration_ms.is_none() {
            return vec![NO_FINISH_RECORD.to_string()];
        }
        match (&self.error, self.incomplete.is_empty()) {
            (Some(error), true) => vec![format!("run: {error}")],
            _ => self.incomplete.clone(),
        }
    }

    /// Writes `test.json` whole: a temporary file in the run folder, renamed over the old one.
    pub fn write(&self, run: &RunDir) -> Result<()> {
        let path = run.file(TEST_JSON);
        let partial = run.file(".test.json.partial");
        let write = || -> std::io::Result<()> {
            std::fs::write(&partial, serde_json::to_vec_pretty(self)?)?;
            std::fs::rename(&partial, &path)
        };
        write()
            .with_context(|| format!("writing {}", path.display()))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&partial);
            })
    }

    pub fn read(run: &std::path::Path) -> Result<TestRecord> {
        let path = run.join(TEST_JSON);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

impl TestRecord {
    /// The report header's view of this record.
    pub fn run_info(&self) -> redline_reports::RunInfo {
        use redline_reports::run_info::{NodeInfo, ServerInfo};
        redline_reports::RunInfo {
            name: self.name.clone(),
            workload: self.workload.clone(),
            nemesis: self.nemesis.clone(),
            seed: self.seed,
            started_at: self.started_at.clone(),
            duration_ms: self.duration_ms.unwrap_or(0),
            command: self.command.clone(),
            server: ServerInfo {
                name: self.server.name.clone(),
                version: self.server.version.clone(),
                binary: self.server.binary.clone(),
            },
            nodes: self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| NodeInfo {
                    name: n.clone(),
                    role: if i == 0 { "master" } else { "replica" }.to_string(),
                    port: 0,
                })
                .collect(),
            sentinels: self.sentinels.len() as u32,
            replicas: self.config.replicas as u32,
            redis_options: self
                .config
                .redis_options
                .iter()
                .map(|o| reproduce::redact_option(o))
                .collect(),
            concurrency: self.config.concurrency as u64,
            time_limit_s: self.config.time_limit,
            fault_schedule: self.schedule.clone(),
        }
    }
}
