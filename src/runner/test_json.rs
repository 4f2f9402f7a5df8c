//! `test.json`: everything needed to understand and replay a run: every option, the seed, the
//! fault schedule, the server and how long it took. Written when the run starts (so even a
//! crashed run has it) and rewritten as facts arrive.

use crate::cluster::admin::ServerIdentity;
use crate::cluster::backend::Backend;
use crate::config::{Plan, TestConfig};
use crate::nemesis::schedule::Step;
use crate::provision::ServerBinary;
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why the run ended early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TestRecord {
    pub fn new(plan: &Plan, server: &ServerBinary, steps: &[Step]) -> TestRecord {
        TestRecord {
            name: plan.name.clone(),
            workload: plan.workload.name().to_string(),
            nemesis: plan.nemesis.to_string(),
            seed: plan.seed,
            started_at: chrono::Utc::now().to_rfc3339(),
            command: reproduce_command(plan),
            config: TestConfig {
                seed: Some(plan.seed),
                ..plan.config.clone()
            },
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
        }
    }

    pub fn set_server<B: Backend>(&mut self, cluster: &B) {
        let ServerIdentity { name, version } = cluster.server().clone();
        self.server.name = name;
        self.server.version = version;
        self.nodes = cluster.node_names();
        self.sentinels = cluster.sentinel_names();
    }

    pub fn finish(&mut self, took: Duration, error: Option<String>) {
        self.duration_ms = Some(took.as_millis() as u64);
        self.error = error;
    }

    pub fn write(&self, run: &RunDir) -> Result<()> {
        let path = run.file(TEST_JSON);
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(run: &std::path::Path) -> Result<TestRecord> {
        let path = run.join(TEST_JSON);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// `redline test ...` with every option that differs from its default, and the seed.
fn reproduce_command(plan: &Plan) -> String {
    let c = &plan.config;
    let d = TestConfig::default();
    let mut args = vec!["redline".to_string(), "test".to_string()];
    let mut push = |flag: &str, v: String| {
        args.push(format!("--{flag}"));
        args.push(shell_quote(&v));
    };
    if c.name.is_some() {
        push("name", plan.name.clone());
    }
    push("workload", c.workload.clone());
    push("nemesis", c.nemesis.clone());
    if c.nemesis_interval != d.nemesis_interval {
        push("nemesis-interval", c.nemesis_interval.to_string());
    }
    if let Some(f) = c.fault_duration {
        push("fault-duration", f.to_string());
    }
    if c.replicas != d.replicas {
        push("replicas", c.replicas.to_string());
    }
    if c.net != d.net {
        push("net", c.net.clone());
    }
    if c.sentinels != d.sentinels {
        push("sentinels", c.sentinels.to_string());
    }
    push("time-limit", c.time_limit.to_string());
    if c.concurrency != d.concurrency {
        push("concurrency", c.concurrency.to_string());
    }
    if c.rate != d.rate {
        push("rate", c.rate.to_string());
    }
    push("seed", plan.seed.to_string());
    if c.read_from != d.read_from {
        push("read-from", c.read_from.clone());
    }
    if c.replica_routing != d.replica_routing {
        push("replica-routing", c.replica_routing.clone());
    }
    if let Some(k) = c.keys {
        push("keys", k.to_string());
    }
    if c.wait_replicas != d.wait_replicas {
        push("wait-replicas", c.wait_replicas.to_string());
    }
    if c.wait_timeout != d.wait_timeout {
        push("wait-timeout", c.wait_timeout.to_string());
    }
    if c.waitaof_local != d.waitaof_local {
        push("waitaof-local", c.waitaof_local.to_string());
    }
    if c.waitaof_replicas != d.waitaof_replicas {
        push("waitaof-replicas", c.waitaof_replicas.to_string());
    }
    if c.max_txn_length != d.max_txn_length {
        push("max-txn-length", c.max_txn_length.to_string());
    }
    if c.op_timeout != d.op_timeout {
        push("op-timeout", c.op_timeout.to_string());
    }
    if c.delay_ms != d.delay_ms {
        push("delay-ms", c.delay_ms.to_string());
    }
    if c.delay_jitter_ms != d.delay_jitter_ms {
        push("delay-jitter-ms", c.delay_jitter_ms.to_string());
    }
    for o in &c.redis_options {
        push("redis-option", o.clone());
    }
    if let Some(f) = &c.redis_conf {
        push("redis-conf", f.display().to_string());
    }
    if let Some(b) = &c.server_bin {
        push("server-bin", b.display().to_string());
    }
    for e in &c.expect {
        push("expect", e.clone());
    }
    if c.cas {
        args.push("--cas".into());
    }
    args.join(" ")
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:=/%<>+".contains(c))
        && !s.contains(['<', '>'])
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
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
            redis_options: self.config.redis_options.clone(),
            concurrency: self.config.concurrency as u64,
            time_limit_s: self.config.time_limit,
            fault_schedule: self.schedule.clone(),
        }
    }
}
