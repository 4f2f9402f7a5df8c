//! Jepsen's set-full timeline, per element: what the history says happened to each add.
//!
//! For every element the analysis finds (as `jepsen.checker/set-full` does):
//! - the *known time*: the completion of its `ok` add, or the completion of the first read that
//!   saw it, whichever is earlier (a read can prove an `info` add happened);
//! - the *last seen* read (largest invocation index among reads containing it) and the *last
//!   missed* read (largest invocation index among reads not containing it);
//! - its *fate*, decided by the final read of the post-failover master alone: `Stable` when that
//!   read contains it, `Lost` when it does not although the element was known before that read
//!   began, `NeverRead` otherwise (an `info` add nobody ever saw is not lost: it may never have
//!   happened). Reads of replicas that miss an element are staleness, never loss;
//! - its *visibility latency* (Jepsen's stable latency): from the known time to the invocation
//!   of the last read that missed it, or 0 when no read after the known time missed it.
//!
//! The timeline uses every non-final read plus the master's final read; the replicas' final
//! reads are compared with the master's separately (divergence).
//!
//! Memory: a run of minutes has millions of reads of up to `--set-size` elements each. Reads
//! are grouped by key as operations; a key's element sets are built when that key is analysed
//! and dropped when it is done ([`SetRead`] keeps only the size), so the sets of one key at a
//! time are held, never those of the whole run.

use super::element::SetElement;
use crate::final_reads::{node_of, FinalReads};
use crate::history::{Function, History, OpType, Operation};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// The outcome of an element's add(s): `Ok` if any add was acknowledged, else `Info` if any was
/// indeterminate, else `Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddStatus {
    Ok,
    Info,
    Fail,
}

/// What the final master read says about an acknowledged or indeterminate element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Stable,
    Lost,
    NeverRead,
}

/// A successful read of a set, reduced to what the explanations need once its key is analysed.
#[derive(Debug, Clone)]
pub struct SetRead<'a> {
    pub op: Operation<'a>,
    /// How many elements it returned.
    pub size: usize,
}

impl SetRead<'_> {
    pub fn invoke_index(&self) -> u64 {
        self.op.invoke.index
    }
    pub fn invoke_time(&self) -> u64 {
        self.op.invoke.time
    }
    pub fn complete_time(&self) -> u64 {
        self.op.last().time
    }
    pub fn node(&self) -> Option<&str> {
        node_of(&self.op)
    }
}

/// One attempted element and its timeline. Reads are positions in [`KeyAnalysis::reads`].
#[derive(Debug, Clone)]
pub struct Element<'a> {
    pub element: SetElement,
    /// The add that decides the status (the acknowledged one if any).
    pub add: Operation<'a>,
    pub status: AddStatus,
    /// Known time (ns) and the index of the record that made it known.
    pub known: Option<(u64, u64)>,
    pub first_seen: Option<usize>,
    pub last_seen: Option<usize>,
    pub last_missed: Option<usize>,
    /// Whether the master's final read contains it (false when there is no such read).
    pub in_final: bool,
    /// `None` for `fail` adds and when the key has no final master read.
    pub fate: Option<Fate>,
    /// Stable elements only: Jepsen's stable latency, in ms.
    pub visibility_ms: Option<f64>,
}

/// An element some read returned that no add ever attempted.
#[derive(Debug, Clone)]
pub struct Unexpected {
    pub element: SetElement,
    /// The first read (position in [`KeyAnalysis::reads`]) that returned it.
    pub read: usize,
}

/// A replica whose final read differs from the master's final read of the same key.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// Position in [`KeyAnalysis::replica_finals`].
    pub replica_read: usize,
    /// The smallest few elements the master has and the replica lacks, and how many in all.
    pub missing: (Vec<SetElement>, usize),
    /// The smallest few elements the replica has and the master lacks, and how many in all.
    pub extra: (Vec<SetElement>, usize),
}

/// How many missing/extra elements a [`Divergence`] keeps.
const ELEMENTS_QUOTED: usize = 5;

/// Everything about one key (one set).
#[derive(Debug, Clone)]
pub struct KeyAnalysis<'a> {
    pub key: Option<Arc<str>>,
    /// Timeline reads: non-final reads, then the master's final read (last, if any).
    pub reads: Vec<SetRead<'a>>,
    /// Position of the master's final read in `reads`.
    pub final_read: Option<usize>,
    /// The replicas' successful final reads.
    pub replica_finals: Vec<SetRead<'a>>,
    /// Attempted elements, by add invocation time.
    pub elements: Vec<Element<'a>>,
    pub unexpected: Vec<Unexpected>,
    /// The replicas whose final read differs from the master's (none without a master read).
    pub divergences: Vec<Divergence>,
}

/// The whole set analysis, shared by the lost-writes and wait checkers.
#[derive(Debug, Clone)]
pub struct SetAnalysis<'a> {
    pub keys: Vec<KeyAnalysis<'a>>,
    pub final_reads: FinalReads<'a>,
    pub notes: Vec<String>,
    /// Adds without an element or reads whose value is not a set: the analysis could not judge
    /// them, so a clean result must not be taken for a valid one.
    pub unjudged: usize,
    /// Keys with such an add: an element no judged add attempted may be that add's, so no
    /// element of these keys is called unexpected.
    pub keys_with_unjudged_adds: std::collections::BTreeSet<Option<Arc<str>>>,
}

/// Whether an operation adds an element: `add`, or a `write` carrying WAIT / WAITAOF (the wait
/// workloads may name their adds `write`).
pub fn is_add(op: &Operation<'_>) -> bool {
    let inv = op.invoke;
    inv.f == Function::Add
        || (inv.f == Function::Write && (inv.wait.is_some() || inv.waitaof.is_some()))
}

/// Runs the set-full analysis over every key with adds or reads.
pub fn analyse(history: &History) -> SetAnalysis<'_> {
    let final_reads = FinalReads::from_history(history);
    let mut notes = final_reads.notes.clone();
    let mut adds: BTreeMap<Option<Arc<str>>, Vec<Operation<'_>>> = BTreeMap::new();
    let mut reads: BTreeMap<Option<Arc<str>>, Vec<Operation<'_>>> = BTreeMap::new();
    let mut skipped_reads = 0usize;
    let mut skipped_adds = 0usize;
    let mut keys_with_unjudged_adds = std::collections::BTreeSet::new();
    for op in history.operations() {
        let key = op.invoke.key.clone();
        if is_add(&op) && SetElement::of(&op.invoke.value).is_none() {
            skipped_adds += 1;
            keys_with_unjudged_adds.insert(key);
        } else if is_add(&op) {
            adds.entry(key).or_default().push(op);
        } else if op.invoke.f == Function::Read && op.outcome() == OpType::Ok {
            if is_set_read(&op) {
                reads.entry(key).or_default().push(op);
            } else {
                skipped_reads += 1;
            }
        }
    }
    if skipped_reads > 0 {
        notes.push(format!(
            "{skipped_reads} ok reads were ignored: their value is not a set (a list)"
        ));
    }
    if skipped_adds > 0 {
        notes.push(format!(
            "{skipped_adds} adds were ignored: they name no element (null); no element of \
             their keys is called unexpected"
        ));
    }
    let keys: Vec<Option<Arc<str>>> = adds.keys().chain(reads.keys()).cloned().collect();
    let keys: std::collections::BTreeSet<_> = keys.into_iter().collect();
    let keys = keys
        .into_iter()
        .map(|key| {
            let key_adds = adds.remove(&key).unwrap_or_default();
            let key_reads = reads.remove(&key).unwrap_or_default();
            analyse_key(key, key_adds, key_reads, &final_reads)
        })
        .collect();
    SetAnalysis {
        keys,
        final_reads,
        notes,
        unjudged: skipped_reads + skipped_adds,
        keys_with_unjudged_adds,
    }
}

/// Whether a successful read returned a set: an array, or `null` (the key does not exist).
fn is_set_read(op: &Operation<'_>) -> bool {
    op.completion
        .is_some_and(|c| c.value.is_null() || c.value.is_array())
}

/// The elements of a successful set read; `null` is the empty set (the key does not exist).
/// `None` when the value is not a set ([`is_set_read`]).
fn read_elements(op: &Operation<'_>) -> Option<HashSet<SetElement>> {
    let value = &op.completion?.value;
    if value.is_null() {
        return Some(HashSet::new());
    }
    Some(
        value
            .as_array()?
            .iter()
            .filter_map(SetElement::of)
            .collect(),
    )
}

/// A read with its elements, while its key is analysed.
struct ReadWithSet<'a> {
    read: SetRead<'a>,
    elements: HashSet<SetElement>,
}

impl<'a> std::ops::Deref for ReadWithSet<'a> {
    type Target = SetRead<'a>;
    fn deref(&self) -> &SetRead<'a> {
        &self.read
    }
}

impl<'a> ReadWithSet<'a> {
    fn of(op: Operation<'a>) -> ReadWithSet<'a> {
        let elements = read_elements(&op).unwrap_or_default();
        let size = elements.len();
        ReadWithSet {
            read: SetRead { op, size },
            elements,
        }
    }
}

fn analyse_key<'a>(
    key: Option<Arc<str>>,
    adds: Vec<Operation<'a>>,
    all_reads: Vec<Operation<'a>>,
    final_reads: &FinalReads<'a>,
) -> KeyAnalysis<'a> {
    let master_final = final_reads.master_read(key.as_deref());
    let replica_reads = final_reads.replica_reads(key.as_deref());
    let mut reads: Vec<ReadWithSet<'a>> = Vec::new();
    let mut replica_finals = Vec::new();
    let mut final_set = None;
    for op in all_reads {
        let index = op.invoke.index;
        if !final_reads.contains(index) {
            reads.push(ReadWithSet::of(op));
        } else if master_final.is_some_and(|m| m.invoke.index == index) {
            final_set = Some(ReadWithSet::of(op));
        } else if replica_reads.iter().any(|o| o.invoke.index == index) {
            replica_finals.push(ReadWithSet::of(op));
        }
    }
    // Jepsen processes reads in completion order; `known` depends on it.
    reads.sort_by_key(|r| r.read.op.last().index);
    let final_read = final_set.map(|r| {
        reads.push(r);
        reads.len() - 1
    });
    let mut elements = elements_of(adds);
    let unexpected = walk_reads(&reads, &mut elements);
    let mut divergences = Vec::new();
    if let Some(f) = final_read {
        for e in &mut elements {
            decide_fate(e, &reads, f);
        }
        divergences = diverging(&reads[f].elements, &replica_finals);
    }
    KeyAnalysis {
        key,
        reads: reads.into_iter().map(|r| r.read).collect(),
        final_read,
        replica_finals: replica_finals.into_iter().map(|r| r.read).collect(),
        elements,
        unexpected,
        divergences,
    }
}

/// The replicas' final reads that differ from the master's (`master`).
fn diverging(master: &HashSet<SetElement>, replicas: &[ReadWithSet<'_>]) -> Vec<Divergence> {
    (replicas.iter().enumerate())
        .filter(|(_, r)| r.elements != *master)
        .map(|(i, r)| Divergence {
            replica_read: i,
            missing: first_few(master.difference(&r.elements)),
            extra: first_few(r.elements.difference(master)),
        })
        .collect()
}

/// The smallest few elements of a difference and its size.
fn first_few<'x>(diff: impl Iterator<Item = &'x SetElement>) -> (Vec<SetElement>, usize) {
    let mut all: Vec<SetElement> = diff.cloned().collect();
    all.sort_unstable();
    let n = all.len();
    all.truncate(ELEMENTS_QUOTED);
    (all, n)
}

/// One entry per distinct element, its deciding add and status; sorted by invocation time.
fn elements_of(adds: Vec<Operation<'_>>) -> Vec<Element<'_>> {
    let mut by_value: HashMap<SetElement, Element<'_>> = HashMap::new();
    for add in adds {
        let Some(value) = SetElement::of(&add.invoke.value) else {
            continue;
        };
        let status = match add.outcome() {
            OpType::Ok => AddStatus::Ok,
            OpType::Fail => AddStatus::Fail,
            _ => AddStatus::Info,
        };
        let rank = |s: AddStatus| match s {
            AddStatus::Ok => 2,
            AddStatus::Info => 1,
            AddStatus::Fail => 0,
        };
        let known = (status == AddStatus::Ok).then(|| (add.last().time, add.last().index));
        let candidate = Element {
            element: value.clone(),
            add,
            status,
            known,
            first_seen: None,
            last_seen: None,
            last_missed: None,
            in_final: false,
            fate: None,
            visibility_ms: None,
        };
        match by_value.get(&value) {
            Some(e) if rank(e.status) >= rank(status) => {}
            _ => {
                by_value.insert(value, candidate);
            }
        }
    }
    let mut elements: Vec<_> = by_value.into_values().collect();
    elements.sort_by_key(|e| (e.add.invoke.time, e.add.invoke.index));
    elements
}

/// Updates every element's known time, first/last seen and last missed from the reads (in
/// completion order), and returns the elements no add attempted.
fn walk_reads(reads: &[ReadWithSet<'_>], elements: &mut [Element<'_>]) -> Vec<Unexpected> {
    let position: HashMap<SetElement, usize> = elements
        .iter()
        .enumerate()
        .map(|(i, e)| (e.element.clone(), i))
        .collect();
    let invoked: Vec<u64> = elements.iter().map(|e| e.add.invoke.time).collect();
    let mut unexpected: BTreeMap<SetElement, usize> = BTreeMap::new();
    for (r, read) in reads.iter().enumerate() {
        for v in &read.elements {
            match position.get(v) {
                Some(&i) => see(&mut elements[i], reads, r),
                None => {
                    unexpected.entry(v.clone()).or_insert(r);
                }
            }
        }
        // A read that completed before an add was invoked trivially misses it and can never
        // matter to that element's timeline, so only adds invoked by the read's end are visited.
        let reachable = invoked.partition_point(|&t| t <= read.complete_time());
        for e in &mut elements[..reachable] {
            if !read.elements.contains(&e.element) {
                let later = e
                    .last_missed
                    .is_none_or(|m| reads[m].invoke_index() < read.invoke_index());
                if later {
                    e.last_missed = Some(r);
                }
            }
        }
    }
    unexpected
        .into_iter()
        .map(|(element, read)| Unexpected { element, read })
        .collect()
}

fn see(e: &mut Element<'_>, reads: &[ReadWithSet<'_>], r: usize) {
    let read = &reads[r];
    let completed = (read.complete_time(), read.op.last().index);
    if e.known.is_none_or(|k| completed < k) {
        e.known = Some(completed);
    }
    if e.first_seen.is_none() {
        e.first_seen = Some(r);
    }
    if e.last_seen
        .is_none_or(|s| reads[s].invoke_index() < read.invoke_index())
    {
        e.last_seen = Some(r);
    }
}

/// Decides an element's fate from the master's final read (position `f`) and, for stable
/// elements, Jepsen's stable latency.
fn decide_fate(e: &mut Element<'_>, reads: &[ReadWithSet<'_>], f: usize) {
    let final_read = &reads[f];
    e.in_final = final_read.elements.contains(&e.element);
    if e.status == AddStatus::Fail {
        return;
    }
    e.fate = Some(if e.in_final {
        Fate::Stable
    } else {
        match e.known {
            // The final read must *begin after* the element was known: a read concurrent with
            // the add (or with the read that revealed it) may linearize before it.
            Some((t, _)) if t < final_read.invoke_time() => Fate::Lost,
            _ => Fate::NeverRead,
        }
    });
    if e.fate == Some(Fate::Stable) {
        let known = e.known.map_or(0, |k| k.0);
        let last_seen_invoke = e.last_seen.map_or(0, |s| reads[s].invoke_index());
        e.visibility_ms = match e.last_missed {
            None => Some(0.0),
            Some(m) if reads[m].invoke_index() < last_seen_invoke => {
                Some(reads[m].invoke_time().saturating_sub(known) as f64 / 1e6)
            }
            Some(_) => None,
        };
    }
}

impl Element<'_> {
    /// The last read that missed the element although it began after the element was known
    /// (position in `reads`): Jepsen's "last absent" restricted to reads that count as a miss.
    pub fn last_missed_after_known(&self, reads: &[SetRead<'_>]) -> Option<usize> {
        let (known, _) = self.known?;
        let m = self.last_missed?;
        (reads[m].invoke_time() > known).then_some(m)
    }
}
