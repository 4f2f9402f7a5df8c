//! What `test.json` says about a run: the test, the cluster, the server and the exact command
//! that reproduces it.
//!
//! The harness writes a [`RunInfo`] under the key `"run"` of `test.json`; reports read it back.
//! Every field has a default so that a `test.json` written by an older redline (or by hand, or
//! missing fields the harness could not learn) still loads: an absent field renders as empty.

use crate::error::ReportError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A description of one run, as stored in `test.json` under `"run"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    /// The test name (also the store folder name).
    pub name: String,
    /// `set`, `register`, `counter`, `wait`, `waitaof` or `list-append`.
    pub workload: String,
    /// The nemesis spec string as given on the command line (`kill:master,partition`, `none`).
    pub nemesis: String,
    /// The seed of every random choice (generators and fault schedule).
    pub seed: u64,
    /// Wall-clock start of the run, RFC 3339 (`2025-01-31T12:00:00Z`).
    pub started_at: String,
    /// How long the run took, set-up to tear-down, in milliseconds.
    pub duration_ms: u64,
    /// The exact command line that reproduces the run (same seed, same options).
    pub command: String,
    /// Which server binary ran.
    pub server: ServerInfo,
    /// The data nodes, with their role when the run started.
    pub nodes: Vec<NodeInfo>,
    /// How many Sentinels watched the cluster (0: none).
    pub sentinels: u32,
    /// How many replicas the master had at the start.
    pub replicas: u32,
    /// Non-default server options, each `"k=v"` (`--redis-option` and `--redis-conf` lines).
    pub redis_options: Vec<String>,
    /// Number of concurrent client processes (lanes of the timeline).
    pub concurrency: u64,
    /// `--time-limit`, in seconds.
    pub time_limit_s: f64,
    /// The fault schedule as the nemesis planned it; free-form JSON, shown as is.
    pub fault_schedule: Value,
}

/// The server under test. `version` comes from `INFO server` on the running process, never from
/// the binary's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    /// `redis` or `valkey`.
    pub name: String,
    /// e.g. `7.2.4`.
    pub version: String,
    /// Path of the binary that ran.
    pub binary: String,
}

/// One data node of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeInfo {
    /// `n1`, `n2`, ...
    pub name: String,
    /// `master` or `replica` when the run started.
    pub role: String,
    /// The port clients used (0 when unknown).
    pub port: u16,
}

impl RunInfo {
    /// Reads the `"run"` object of a parsed `test.json`. A file without `"run"` (or with a
    /// `null` one) yields `Ok(None)`; a `"run"` of the wrong shape is an error.
    pub fn from_test_json(test_json: &Value) -> Result<Option<RunInfo>, ReportError> {
        match test_json.get("run") {
            None | Some(Value::Null) => Ok(None),
            Some(run) => Ok(Some(RunInfo::deserialize(run)?)),
        }
    }

    /// `"redis 7.2.4"`, or whichever parts are known.
    pub fn server_label(&self) -> String {
        let label = format!("{} {}", self.server.name, self.server.version);
        label.trim().to_string()
    }

    /// `"n1 master :7001, n2 replica :7002"`: the layout in one line.
    pub fn layout_label(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                let port = if n.port == 0 {
                    String::new()
                } else {
                    format!(" :{}", n.port)
                };
                format!("{} {}{}", n.name, n.role, port)
            })
            .collect();
        let mut label = nodes.join(", ");
        if self.sentinels > 0 {
            label.push_str(&format!(" + {} sentinels", self.sentinels));
        }
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn old_files_with_missing_fields_load() {
        let test_json = json!({"run": {"name": "set-kill", "seed": 7}});
        let info = RunInfo::from_test_json(&test_json).unwrap().unwrap();
        assert_eq!(info.name, "set-kill");
        assert_eq!(info.seed, 7);
        assert!(info.nodes.is_empty());
        assert_eq!(info.server_label(), "");
    }

    #[test]
    fn round_trips_and_labels_layout() {
        let info = RunInfo {
            name: "t".into(),
            server: ServerInfo {
                name: "valkey".into(),
                version: "8.0.1".into(),
                binary: "/usr/bin/valkey-server".into(),
            },
            nodes: vec![
                NodeInfo {
                    name: "n1".into(),
                    role: "master".into(),
                    port: 7001,
                },
                NodeInfo {
                    name: "n2".into(),
                    role: "replica".into(),
                    port: 0,
                },
            ],
            sentinels: 3,
            ..RunInfo::default()
        };
        let back: RunInfo = serde_json::from_value(serde_json::to_value(&info).unwrap()).unwrap();
        assert_eq!(back, info);
        assert_eq!(info.server_label(), "valkey 8.0.1");
        assert_eq!(
            info.layout_label(),
            "n1 master :7001, n2 replica + 3 sentinels"
        );
    }

    #[test]
    fn missing_run_key_is_none_and_bad_shape_is_error() {
        assert!(RunInfo::from_test_json(&json!({})).unwrap().is_none());
        assert!(RunInfo::from_test_json(&json!({"run": {"seed": "x"}})).is_err());
    }
}
