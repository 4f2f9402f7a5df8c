//! The command line that reproduces a run, derived from its configuration, and the redaction
//! of secrets in what a run writes down.
//!
//! The command is not a list of flags kept by hand (such a list once dropped `--read-ratio`,
//! the Sentinel timings, `--converge-timeout` and the SSH options): every argument clap knows
//! for [`TestConfig`] is walked, its value taken from the configuration's serialized form, and
//! written out when it differs from the default (the workload, nemesis, time limit and seed
//! always, so the command reads on its own). A property test parses the command back and
//! compares configurations.
//!
//! Secrets: a `--redis-option` whose key holds a password (the cluster core's
//! [`is_secret_option`], the rule that also keeps server configs private) is written
//! with its value replaced by [`REDACTED`], in the command and in `test.json`'s `config`. The
//! command then does not run as is; it says which value to supply.

use super::TestConfig;
use crate::cluster::redis_conf::is_secret_option;
use clap::{ArgAction, Args, Command};
use serde_json::Value;

/// What a secret value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Options that always appear in the command, default or not.
const ALWAYS: &[&str] = &["workload", "nemesis", "time_limit", "seed"];

/// `K=V` with V redacted when K is a secret; anything else unchanged.
pub fn redact_option(option: &str) -> String {
    match option.split_once('=') {
        Some((key, _)) if is_secret_option(key) => format!("{key}={REDACTED}"),
        _ => option.to_string(),
    }
}

/// `config` with every secret redis option value redacted.
pub fn redacted(config: &TestConfig) -> TestConfig {
    TestConfig {
        redis_options: config
            .redis_options
            .iter()
            .map(|o| redact_option(o))
            .collect(),
        ..config.clone()
    }
}

/// Whether `config` holds a secret (then whatever records it is written for its owner only).
pub fn has_secrets(config: &TestConfig) -> bool {
    config
        .redis_options
        .iter()
        .any(|o| o.split_once('=').is_some_and(|(k, _)| is_secret_option(k)))
}

/// `redline test ...` reproducing `config` (secrets redacted): every option that differs from
/// its default, in clap's order.
pub fn command(config: &TestConfig) -> String {
    let config = redacted(config);
    let (Ok(Value::Object(values)), Ok(Value::Object(defaults))) = (
        serde_json::to_value(&config),
        serde_json::to_value(TestConfig::default()),
    ) else {
        // A struct of plain fields always serializes to an object.
        return "redline test".to_string();
    };
    let mut words = vec!["redline".to_string(), "test".to_string()];
    for arg in TestConfig::augment_args(Command::new("test")).get_arguments() {
        let (id, Some(long)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        let key = id.replace('_', "-");
        let value = values.get(&key).unwrap_or(&Value::Null);
        if value == defaults.get(&key).unwrap_or(&Value::Null) && !ALWAYS.contains(&id) {
            continue;
        }
        let flag_only = matches!(arg.get_action(), ArgAction::SetTrue);
        for item in as_items(value) {
            match item {
                Some(text) if !flag_only => words.push(flag_value(long, &text)),
                None if flag_only && value == &Value::Bool(true) => words.push(format!("--{long}")),
                _ => {}
            }
        }
    }
    words.join(" ")
}

/// The values one option stands for: each element of a list, one scalar, nothing for null;
/// `None` for a boolean (written as a bare flag).
fn as_items(value: &Value) -> Vec<Option<String>> {
    match value {
        Value::Null => Vec::new(),
        Value::Bool(_) => vec![None],
        Value::Array(items) => items.iter().flat_map(as_items).collect(),
        Value::String(s) => vec![Some(s.clone())],
        other => vec![Some(other.to_string())],
    }
}

/// `--flag value`, or `--flag=value` when the value starts with `-` (clap would take it for a
/// flag), the value quoted for a POSIX shell.
fn flag_value(long: &str, value: &str) -> String {
    if value.starts_with('-') {
        format!("--{long}={}", shell_quote(value))
    } else {
        format!("--{long} {}", shell_quote(value))
    }
}

/// `s` as one POSIX shell word: bare when it is made of safe characters, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.,:=/%+@".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests;
