//! Reading a suite file: TOML with an optional `[defaults]` table and one `[[test]]` table per
//! test. A test table takes `name`, `repeat` and every key of [`TestConfig`] (kebab-case, as the
//! flags of `redline test` are spelled); `[defaults]` takes the same keys but `name`, and is
//! merged under every test (a key in the test wins).
//!
//! Every mistake is reported with the file, the line and the key, before anything runs: a key
//! is checked on its own (so a wrong type or unknown key points at its own line), then the
//! merged table is validated as `redline test` would validate its flags. When `validate()`
//! rejects a test, the key to blame is found by resetting one key at a time to its default:
//! the key whose reset makes the test valid is the one named (with its line); if no single key
//! is to blame (two keys that only conflict together), the error points at the test's line.

use crate::config::TestConfig;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The most repeats a test may ask for; more is almost certainly a typo.
pub const MAX_REPEAT: u64 = 1000;

/// A parsed and validated suite file.
#[derive(Debug, Clone)]
pub struct SuiteFile {
    pub path: PathBuf,
    /// The top-level `name`, else the file's stem; names `store/suites/<name>/`.
    pub name: String,
    pub tests: Vec<SuiteTest>,
}

/// One `[[test]]` table, merged with `[defaults]`.
#[derive(Debug, Clone)]
pub struct SuiteTest {
    pub name: String,
    /// How many runs, each with its own seed (base seed + run number).
    pub repeat: u64,
    /// The options; `config.name` is the test name, `config.seed` the base seed if one was set.
    pub config: TestConfig,
    /// The line of the test's `[[test]]` header, for messages.
    pub line: usize,
}

/// A mistake in a suite file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteFileError {
    pub file: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for SuiteFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SuiteFileError {}

/// Keys of a table with where they are, as the TOML deserializer hands them over.
type Entries = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: Option<Spanned<String>>,
    defaults: Option<Spanned<Entries>>,
    #[serde(default)]
    test: Vec<Spanned<Entries>>,
}

/// One key of a test after merging: its value and the line it came from.
#[derive(Debug, Clone)]
struct Entry {
    value: toml::Value,
    line: usize,
}

/// Reads and validates a suite file.
pub fn load(path: &Path) -> Result<SuiteFile, SuiteFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| SuiteFileError {
        file: path.display().to_string(),
        line: None,
        key: None,
        message: format!("cannot read the suite file: {e}"),
    })?;
    parse(path, &text)
}

/// Parses and validates a suite file's text (`path` names it in messages and gives the default
/// suite name).
pub fn parse(path: &Path, text: &str) -> Result<SuiteFile, SuiteFileError> {
    let at = Locator {
        file: path.display().to_string(),
        text,
    };
    let raw: RawSuite = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| at.line(s.start));
        at.error(line, None, e.message().trim_end().to_string())
    })?;
    let name = match &raw.name {
        Some(n) => {
            check_folder_name(n.get_ref()).map_err(|m| at.error_at(n.span(), Some("name"), m))?;
            n.get_ref().clone()
        }
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "suite".into()),
    };
    let defaults = match &raw.defaults {
        Some(d) => entries(&at, d.get_ref(), Scope::Defaults)?,
        None => BTreeMap::new(),
    };
    if raw.test.is_empty() {
        return Err(at.error(None, None, "no [[test]] table: nothing to run".into()));
    }
    let mut tests: Vec<SuiteTest> = Vec::new();
    for table in &raw.test {
        let test = test(&at, table, &defaults)?;
        if let Some(first) = tests.iter().find(|t| t.name == test.name) {
            return Err(at.error(
                Some(test.line),
                Some("name"),
                format!(
                    "two tests are named {:?} (the first at line {}); names must be unique",
                    test.name, first.line
                ),
            ));
        }
        tests.push(test);
    }
    Ok(SuiteFile {
        path: path.to_path_buf(),
        name,
        tests,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Defaults,
    Test,
}

/// Checks each key of a table on its own and returns them with their lines.
fn entries(
    at: &Locator,
    table: &Entries,
    scope: Scope,
) -> Result<BTreeMap<String, Entry>, SuiteFileError> {
    let mut sorted: Vec<_> = table.iter().collect();
    sorted.sort_by_key(|(k, _)| k.span().start);
    let known = known_keys();
    let mut out = BTreeMap::new();
    for (key, value) in sorted {
        let line = at.line(key.span().start);
        let written = key.get_ref().as_str();
        let k = canonical_key(written);
        let fail = |message: String| at.error(Some(line), Some(written), message);
        match k {
            "name" if scope == Scope::Defaults => {
                return Err(fail(
                    "a test name cannot be a default; give each test its own".into(),
                ))
            }
            "store" => {
                return Err(fail(
                    "run folders go where `redline suite --store DIR` says; remove this key".into(),
                ))
            }
            "repeat" => {
                repeat_value(value.get_ref()).map_err(fail)?;
            }
            "name" => {}
            _ if !known.contains(&k.to_string()) => {
                return Err(fail(unknown_key_message(k, &known)));
            }
            _ => {
                let mut one = toml::Table::new();
                one.insert(k.to_string(), value.get_ref().clone());
                toml::Value::Table(one)
                    .try_into::<TestConfig>()
                    .map_err(|e| fail(format!("bad value: {}", e.message().trim_end())))?;
            }
        }
        out.insert(
            k.to_string(),
            Entry {
                value: value.get_ref().clone(),
                line,
            },
        );
    }
    Ok(out)
}

/// One `[[test]]` table: its own keys over the defaults, validated as a whole.
fn test(
    at: &Locator,
    table: &Spanned<Entries>,
    defaults: &BTreeMap<String, Entry>,
) -> Result<SuiteTest, SuiteFileError> {
    let line = at.line(table.span().start);
    let own = entries(at, table.get_ref(), Scope::Test)?;
    let Some(name) = own.get("name") else {
        return Err(at.error(
            Some(line),
            None,
            "this [[test]] has no `name`; every test needs one".into(),
        ));
    };
    let name = match &name.value {
        toml::Value::String(s) => s.clone(),
        other => {
            return Err(at.error(
                Some(name.line),
                Some("name"),
                format!("a test name is a string, not {}", other.type_str()),
            ))
        }
    };
    if let Err(m) = check_folder_name(&name) {
        return Err(at.error(Some(own["name"].line), Some("name"), m));
    }
    let mut merged = defaults.clone();
    merged.extend(own);
    let repeat = match merged.remove("repeat") {
        Some(e) => repeat_value(&e.value).map_err(|m| at.error(Some(e.line), Some("repeat"), m))?,
        None => 1,
    };
    let config = config_of(&merged).map_err(|m| at.error(Some(line), None, m))?;
    if let Err(e) = config.validate() {
        let culprit = blame(&merged);
        let (line, key) = match &culprit {
            Some(k) => (merged[k].line, Some(k.as_str())),
            None => (line, None),
        };
        return Err(at.error(Some(line), key, format!("test {name:?}: {e:#}")));
    }
    Ok(SuiteTest {
        name,
        repeat,
        config,
        line,
    })
}

/// The test's config from its merged keys (each already checked on its own).
fn config_of(merged: &BTreeMap<String, Entry>) -> Result<TestConfig, String> {
    let table: toml::Table = merged
        .iter()
        .map(|(k, e)| (k.clone(), e.value.clone()))
        .collect();
    toml::Value::Table(table)
        .try_into::<TestConfig>()
        .map_err(|e| e.message().trim_end().to_string())
}

/// The one key whose reset to the default makes the test valid, if there is one.
fn blame(merged: &BTreeMap<String, Entry>) -> Option<String> {
    let mut by_line: Vec<(&String, &Entry)> = merged.iter().collect();
    by_line.sort_by_key(|(_, e)| e.line);
    by_line
        .into_iter()
        .filter(|(k, _)| k.as_str() != "name")
        .map(|(k, _)| k)
        .find(|k| {
            let mut without = merged.clone();
            without.remove(*k);
            config_of(&without).is_ok_and(|c| c.validate().is_ok())
        })
        .cloned()
}

fn repeat_value(value: &toml::Value) -> Result<u64, String> {
    match value.as_integer() {
        Some(n) if n >= 1 && n as u64 <= MAX_REPEAT => Ok(n as u64),
        _ => Err(format!(
            "repeat must be a whole number of runs from 1 to {MAX_REPEAT}, not {value}"
        )),
    }
}

fn check_folder_name(name: &str) -> Result<(), String> {
    match crate::config::folder_name_problem(name) {
        Some(problem) => Err(format!("{name:?} {problem}")),
        None => Ok(()),
    }
}

/// The flag's spelling is accepted for the field whose serde name differs from its flag
/// (`--redis-option` is the field `redis_options`): a suite file reads like the command line.
fn canonical_key(key: &str) -> &str {
    match key {
        "redis-option" => "redis-options",
        other => other,
    }
}

/// The keys a test table accepts besides `repeat`: the fields of [`TestConfig`].
fn known_keys() -> Vec<String> {
    // Serialising the defaults to JSON keeps `None` fields (as null), so every key is listed.
    match serde_json::to_value(TestConfig::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn unknown_key_message(key: &str, known: &[String]) -> String {
    let nearest = known
        .iter()
        .chain(std::iter::once(&"repeat".to_string()))
        .map(|k| (edit_distance(key, k), k.clone()))
        .min();
    match nearest {
        Some((d, k)) if d <= 3 => format!("unknown key; did you mean `{k}`?"),
        _ => format!(
            "unknown key; a test takes `name`, `repeat` and the options of `redline test`: {}",
            known.join(", ")
        ),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Turns byte offsets into line numbers and builds errors for one file.
struct Locator<'a> {
    file: String,
    text: &'a str,
}

impl Locator<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn error(&self, line: Option<usize>, key: Option<&str>, message: String) -> SuiteFileError {
        SuiteFileError {
            file: self.file.clone(),
            line,
            key: key.map(str::to_string),
            message,
        }
    }

    fn error_at(
        &self,
        span: std::ops::Range<usize>,
        key: Option<&str>,
        message: String,
    ) -> SuiteFileError {
        self.error(Some(self.line(span.start)), key, message)
    }
}

#[cfg(test)]
mod tests;
