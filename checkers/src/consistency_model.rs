//! Elle's lattice of consistency models and anomalies (`elle.consistency-model`), as data:
//! which anomalies a set of models prohibits (what makes a history invalid under
//! `--consistency-models`), and which models a set of anomalies rules out, split into the
//! weakest ones (`not`) and the rest (`also-not`).
//!
//! The three graphs are Elle's, edge for edge, so a verdict reads the same as Elle's:
//! - anomaly implication (`G0` implies `G1c`, `internal` nothing, `incompatible-order`
//!   implies `G1a`, `future-read` implies `G1c`, ...);
//! - model implication (`strict-serializable` implies `serializable` implies
//!   `snapshot-isolation` and `repeatable-read`, ...), over Adya's canonical names;
//! - the anomalies each model directly proscribes.
//!
//! Names are Elle's friendly names (`read-committed` for Adya's PL-2, `strong-serializable`
//! for PL-SS, which `strict-serializable` also names).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::OnceLock;

/// Anomaly -> anomalies it implies.
const IMPLIED_ANOMALIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Model -> models it implies (a history satisfying the first satisfies the others).
const MODELS: &[(&str, &[&str])] = &[
    ("causal-cerone", &["read-atomic"]),
    ("consistent-view", &["cursor-stability", "monotonic-view"]),
    ("conflict-serializable", &["view-serializable"]),
    ("cursor-stability", &["read-committed", "PL-2"]),
    ("forward-consistent-view", &["consistent-view"]),
    ("PL-2", &["PL-1"]),
    ("PL-3", &["repeatable-read", "update-serializable"]),
    ("update-serializable", &["forward-consistent-view"]),
    ("monotonic-atomic-view", &["read-committed"]),
    ("monotonic-view", &["PL-2"]),
    ("monotonic-snapshot-read", &["PL-2"]),
    (
        "parallel-snapshot-isolation",
        &["causal-cerone", "update-atomic"],
    ),
    ("prefix", &["causal-cerone"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("read-committed", &["read-uncommitted"]),
    (
        "repeatable-read",
        &["cursor-stability", "monotonic-atomic-view"],
    ),
    ("update-atomic", &["read-atomic"]),
    (
        "serializable",
        &["repeatable-read", "snapshot-isolation", "view-serializable"],
    ),
    ("session-serializable", &["1SR"]),
    (
        "snapshot-isolation",
        &[
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "strict-serializable",
        &[
            "PL-3",
            "serializable",
            "linearizable",
            "snapshot-isolation",
            "strong-snapshot-isolation",
            "strong-session-serializable",
        ],
    ),
    ("strong-session-PL-1", &["PL-1"]),
    ("strong-session-PL-2", &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1", &["strong-session-PL-1"]),
    ("strong-PL-2", &["strong-session-PL-2", "strong-PL-1"]),
    (
        "strong-session-serializable",
        &["serializable", "strong-session-snapshot-isolation"],
    ),
    (
        "strong-session-snapshot-isolation",
        &["snapshot-isolation", "strong-session-PL-2"],
    ),
    ("strong-serializable", &["session-serializable"]),
    (
        "strong-snapshot-isolation",
        &["strong-session-snapshot-isolation", "strong-PL-2"],
    ),
    ("linearizable", &["sequential"]),
    ("sequential", &["causal"]),
    ("causal", &["writes-follow-reads", "PRAM"]),
    (
        "PRAM",
        &["monotonic-reads", "monotonic-writes", "read-your-writes"],
    ),
];

/// Friendly name -> canonical (Adya's) name.
const CANONICAL: &[(&str, &str)] = &[
    ("consistent-view", "PL-2+"),
    ("conflict-serializable", "PL-3"),
    ("cursor-stability", "PL-CS"),
    ("forward-consistent-view", "PL-FCV"),
    ("monotonic-snapshot-read", "PL-MSR"),
    ("monotonic-view", "PL-2L"),
    ("read-committed", "PL-2"),
    ("read-uncommitted", "PL-1"),
    ("repeatable-read", "PL-2.99"),
    ("serializable", "PL-3"),
    ("snapshot-isolation", "PL-SI"),
    ("strict-serializable", "PL-SS"),
    ("strong-serializable", "PL-SS"),
    ("update-serializable", "PL-3U"),
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed", "strong-session-PL-2"),
    ("strong-read-uncommitted", "strong-PL-1"),
    ("strong-read-committed", "strong-PL-2"),
];

/// Model -> anomalies it proscribes directly (beyond those of the models it implies).
const PROSCRIBED: &[(&str, &[&str])] = &[
    ("causal-cerone", &["internal", "G1a"]),
    ("cursor-stability", &["G1", "G-cursor", "lost-update"]),
    ("monotonic-view", &["G1", "G-monotonic"]),
    ("monotonic-snapshot-read", &["G1", "G-MSR"]),
    ("consistent-view", &["G1", "G-single"]),
    ("forward-consistent-view", &["G1", "G-SIb"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    (
        "PL-3",
        &["G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"],
    ),
    ("PL-2", &["G1", "PL-2-cycle-exists"]),
    (
        "PL-1",
        &[
            "G0",
            "duplicate-elements",
            "cyclic-versions",
            "PL-1-cycle-exists",
        ],
    ),
    ("prefix", &["internal", "G1a"]),
    ("serializable", &["internal"]),
    (
        "snapshot-isolation",
        &[
            "internal",
            "G1",
            "G-SI",
            "G-nonadjacent",
            "PL-SI-cycle-exists",
        ],
    ),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    (
        "repeatable-read",
        &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"],
    ),
    ("update-atomic", &["lost-update"]),
    (
        "strict-serializable",
        &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"],
    ),
    (
        "strong-session-PL-1",
        &["strong-session-PL-1-cycle-exists", "G0-process"],
    ),
    (
        "strong-session-PL-2",
        &["strong-session-PL-2-cycle-exists", "G1c-process"],
    ),
    ("strong-PL-1", &["strong-PL-1-cycle-exists", "G0-realtime"]),
    ("strong-PL-2", &["strong-PL-2-cycle-exists", "G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &[
            "internal",
            "G1-process",
            "G-nonadjacent-process",
            "strong-session-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-snapshot-isolation",
        &[
            "internal",
            "G1-realtime",
            "G-nonadjacent-realtime",
            "strong-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-session-serializable",
        &[
            "G1-process",
            "G2-process",
            "strong-session-serializable-cycle-exists",
        ],
    ),
    ("update-serializable", &["G1", "G-update"]),
];

/// A directed graph over names, with both directions indexed.
#[derive(Default)]
struct Graph {
    out: HashMap<&'static str, Vec<&'static str>>,
    into: HashMap<&'static str, Vec<&'static str>>,
}

impl Graph {
    fn link(&mut self, a: &'static str, b: &'static str) {
        self.out.entry(a).or_default().push(b);
        self.into.entry(b).or_default().push(a);
        self.out.entry(b).or_default();
        self.into.entry(a).or_default();
    }

    /// Every vertex reachable from `start` (itself included), forward or backward.
    fn reach(&self, start: &[&'static str], forward: bool) -> HashSet<&'static str> {
        let edges = if forward { &self.out } else { &self.into };
        let mut seen: HashSet<&'static str> = start.iter().copied().collect();
        let mut queue: VecDeque<&'static str> = start.iter().copied().collect();
        while let Some(v) = queue.pop_front() {
            for &w in edges.get(v).map(Vec::as_slice).unwrap_or_default() {
                if seen.insert(w) {
                    queue.push_back(w);
                }
            }
        }
        seen
    }
}

/// The three graphs, built once.
struct Lattice {
    anomalies: Graph,
    models: Graph,
    /// Model -> anomaly, both directions.
    proscribed: Graph,
}

fn lattice() -> &'static Lattice {
    static LATTICE: OnceLock<Lattice> = OnceLock::new();
    LATTICE.get_or_init(|| {
        let mut l = Lattice {
            anomalies: Graph::default(),
            models: Graph::default(),
            proscribed: Graph::default(),
        };
        for (a, bs) in IMPLIED_ANOMALIES {
            bs.iter().for_each(|b| l.anomalies.link(a, b));
        }
        for (a, bs) in MODELS {
            bs.iter()
                .for_each(|b| l.models.link(canonical(a), canonical(b)));
        }
        for (m, anomalies) in PROSCRIBED {
            anomalies
                .iter()
                .for_each(|a| l.proscribed.link(canonical(m), a));
        }
        l
    })
}

/// Adya's name of a model (`read-committed` -> `PL-2`); other names are their own.
pub fn canonical(model: &str) -> &'static str {
    CANONICAL
        .iter()
        .find(|(f, _)| *f == model)
        .map(|(_, c)| *c)
        .or_else(|| known_name(model))
        .unwrap_or("")
}

/// The name Elle prints for a model (`PL-2` -> `read-committed`, `PL-SS` ->
/// `strong-serializable`).
pub fn friendly(model: &str) -> &str {
    match model {
        "PL-3" => "serializable",
        "PL-SS" => "strong-serializable",
        _ => CANONICAL
            .iter()
            .find(|(_, c)| *c == model)
            .map_or(model, |(f, _)| f),
    }
}

/// The static spelling of a model name that appears in the tables, if any.
fn known_name(model: &str) -> Option<&'static str> {
    MODELS
        .iter()
        .flat_map(|(a, bs)| std::iter::once(a).chain(bs.iter()))
        .chain(CANONICAL.iter().flat_map(|(f, c)| [f, c]))
        .find(|n| **n == model)
        .copied()
}

/// Every model name `--consistency-models` accepts, sorted.
pub fn all_models() -> BTreeSet<&'static str> {
    MODELS
        .iter()
        .flat_map(|(a, bs)| std::iter::once(*a).chain(bs.iter().copied()))
        .chain(CANONICAL.iter().flat_map(|(f, c)| [*f, *c]))
        .collect()
}

/// Parses a comma list of models, refusing unknown names (as Elle does).
pub fn parse_models(list: &str) -> Result<Vec<String>, String> {
    let models: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let all = all_models();
    match models.iter().find(|m| !all.contains(m.as_str())) {
        Some(bad) => Err(format!(
            "unknown consistency model {bad:?}; known models: {}",
            all.into_iter().collect::<Vec<_>>().join(", ")
        )),
        None => Ok(models),
    }
}

/// The anomalies that cannot be present if every one of `models` holds (Elle's
/// `anomalies-prohibited-by`): the anomalies the models and the models they imply proscribe,
/// and every anomaly that implies one of those.
pub fn anomalies_prohibited_by(models: &[String]) -> BTreeSet<&'static str> {
    let l = lattice();
    let start: Vec<&'static str> = models.iter().map(|m| canonical(m)).collect();
    let implied = l.models.reach(&start, true);
    let direct: Vec<&'static str> = implied
        .iter()
        .flat_map(|m| l.proscribed.out.get(m).cloned().unwrap_or_default())
        .collect();
    l.anomalies.reach(&direct, false).into_iter().collect()
}

/// The models that cannot hold given `anomalies` (Elle's `anomalies->impossible-models`), by
/// canonical name.
fn impossible_models(anomalies: &[&str]) -> HashSet<&'static str> {
    let l = lattice();
    let start: Vec<&'static str> = anomalies
        .iter()
        .filter_map(|a| l.anomalies.out.get_key_value(*a).map(|(k, _)| *k))
        .chain(
            anomalies
                .iter()
                .filter_map(|a| l.proscribed.into.get_key_value(*a).map(|(k, _)| *k)),
        )
        .collect();
    let implied = l.anomalies.reach(&start, true);
    let direct: Vec<&'static str> = implied
        .iter()
        .flat_map(|a| l.proscribed.into.get(a).cloned().unwrap_or_default())
        .collect();
    l.models.reach(&direct, false)
}

/// What `anomalies` rule out, in Elle's friendly names: the weakest models (`not`) and the
/// other, stronger ones (`also-not`).
pub fn boundary(anomalies: &[&str]) -> (BTreeSet<String>, BTreeSet<String>) {
    let l = lattice();
    let impossible = impossible_models(anomalies);
    // A model is among the weakest unless it implies another impossible model.
    let weakest: HashSet<&str> = impossible
        .iter()
        .copied()
        .filter(|m| {
            !l.models
                .reach(&[*m], true)
                .iter()
                .any(|o| o != m && impossible.contains(o))
        })
        .collect();
    let name = |m: &&str| friendly(m).to_string();
    let not = weakest.iter().map(name).collect();
    let also_not = impossible
        .iter()
        .filter(|m| !weakest.contains(*m))
        .map(name)
        .collect();
    (not, also_not)
}

#[cfg(test)]
mod tests;
