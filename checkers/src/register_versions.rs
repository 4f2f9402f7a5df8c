//! The per-key version order of register writes, shared by the stale-reads and session checkers.
//!
//! Register values are unique per key, so a read's value names the write that produced it. The
//! versions of a key are ordered only by real time: write A precedes write B (A ≺ B) when A
//! completed before B was invoked, strictly (`A.end < B.start`; equal times are concurrent, as
//! intervals are closed). Two writes that overlap are unordered, and nothing is inferred from
//! the values themselves: redline writes increasing values, but a foreign history need not.
//!
//! What counts as a write: `write` of a value, and `cas [old, new]` as a write of `new`. An `ok`
//! write took effect at some point inside its interval; an `info` write (or one never completed)
//! may have taken effect at any time after its invocation, so it never *completes* — it precedes
//! nothing, though its value may be read; a `fail` write certainly did not happen. A nil read
//! (key absent) is of the *initial version*, which precedes every write.

use crate::history::{Function, History, OpType, Process};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// One write (or successful-or-unknown compare-and-set) of a register key.
#[derive(Debug, Clone)]
pub struct RegisterWrite {
    /// `Op::index` of the invocation.
    pub invoke_index: u64,
    /// `Op::index` of the completion, if there was one.
    pub completion_index: Option<u64>,
    pub process: Process,
    /// The value written (`new` for a cas).
    pub value: Value,
    /// Invocation time (ns).
    pub start: u64,
    /// Completion time (ns) of an `ok` write; `None` for `info` and `fail` writes.
    pub end: Option<u64>,
    /// `Ok`, `Info` or `Fail`.
    pub outcome: OpType,
    /// The node the client sent the write to, if recorded.
    pub node: Option<String>,
}

impl RegisterWrite {
    /// The witness indices of this write (invocation, then completion).
    pub fn indices(&self) -> Vec<u64> {
        let mut v = vec![self.invoke_index];
        v.extend(self.completion_index);
        v
    }

    /// Whether this write precedes `other` in real time: it completed (ok) strictly before
    /// `other` was invoked.
    pub fn precedes(&self, other: &RegisterWrite) -> bool {
        self.end.is_some_and(|end| end < other.start)
    }

    /// A one-line description for explanations: "op 12 (write 7, invoked 1.0 ms, ok 2.5 ms)".
    pub fn describe(&self) -> String {
        let ended = match (self.outcome, self.end) {
            (OpType::Ok, Some(end)) => format!("ok {}", ms(end)),
            (OpType::Fail, _) => "failed".to_string(),
            _ => "outcome unknown (info)".to_string(),
        };
        format!(
            "op {} (write of {} by process {}, invoked {}, {ended})",
            self.invoke_index,
            self.value,
            self.process,
            ms(self.start)
        )
    }
}

/// Formats a time in ns as milliseconds for explanations.
pub fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// Which version a read returned.
#[derive(Debug, Clone, Copy)]
pub enum Version<'a> {
    /// Nil: the key was absent, which is the state before every write.
    Initial,
    /// The value of this write.
    Write(&'a RegisterWrite),
}

/// What a read's value can be attributed to.
#[derive(Debug)]
pub enum Attribution<'a> {
    /// The versions the value may be: `Initial` for nil, else every `ok`/`info` write of that
    /// value (one, when values are unique as redline writes them).
    Versions(Vec<Version<'a>>),
    /// Only `fail` writes ever wrote this value: they certainly did not happen.
    OnlyFailedWrites(Vec<&'a RegisterWrite>),
    /// No write of this key ever attempted this value.
    NeverWritten,
}

/// The writes that supersede a version before some time: `count` of them, and the one that
/// completed earliest.
#[derive(Debug, Clone, Copy)]
pub struct Superseding<'a> {
    pub count: usize,
    pub earliest: Option<&'a RegisterWrite>,
}

/// Every write of one key, with indices for the queries the checkers make.
#[derive(Debug, Default)]
pub struct KeyVersions {
    writes: Vec<RegisterWrite>,
    /// Canonical JSON text of a value -> positions in `writes`.
    by_value: HashMap<String, Vec<usize>>,
    /// Positions of `ok` writes, sorted by start time.
    ok_by_start: Vec<usize>,
    /// Start times of `ok_by_start`, for binary search.
    starts: Vec<u64>,
    /// `suffix_min_end[i]`: position in `writes` of the write with the least end time among
    /// `ok_by_start[i..]`.
    suffix_min_end: Vec<usize>,
    /// End times in `ok_by_start` order, for counting ends below a time over a suffix.
    ends: SortedRuns,
}

impl KeyVersions {
    fn new(writes: Vec<RegisterWrite>) -> KeyVersions {
        let mut by_value: HashMap<String, Vec<usize>> = HashMap::new();
        for (pos, w) in writes.iter().enumerate() {
            by_value.entry(w.value.to_string()).or_default().push(pos);
        }
        let mut ok_by_start: Vec<usize> = (0..writes.len())
            .filter(|&p| writes[p].end.is_some())
            .collect();
        ok_by_start.sort_by_key(|&p| (writes[p].start, writes[p].invoke_index));
        let starts: Vec<u64> = ok_by_start.iter().map(|&p| writes[p].start).collect();
        let end_of = |p: usize| writes[p].end.unwrap_or(u64::MAX);
        let mut suffix_min_end = ok_by_start.clone();
        for i in (0..suffix_min_end.len().saturating_sub(1)).rev() {
            let next = suffix_min_end[i + 1];
            if end_of(next) < end_of(suffix_min_end[i]) {
                suffix_min_end[i] = next;
            }
        }
        let ends = SortedRuns::new(ok_by_start.iter().map(|&p| end_of(p)).collect());
        KeyVersions {
            writes,
            by_value,
            ok_by_start,
            starts,
            suffix_min_end,
            ends,
        }
    }

    /// Every write of this key, in invocation (history) order.
    pub fn writes(&self) -> &[RegisterWrite] {
        &self.writes
    }

    /// The write invoked by the record with `Op::index == invoke_index`, if it is one of this
    /// key's writes.
    pub fn write_by_invoke(&self, invoke_index: u64) -> Option<&RegisterWrite> {
        self.writes
            .binary_search_by_key(&invoke_index, |w| w.invoke_index)
            .ok()
            .map(|p| &self.writes[p])
    }

    /// The versions a read value may be (see [`Attribution`]).
    pub fn attribute(&self, value: &Value) -> Attribution<'_> {
        if value.is_null() {
            return Attribution::Versions(vec![Version::Initial]);
        }
        let Some(positions) = self.by_value.get(&value.to_string()) else {
            return Attribution::NeverWritten;
        };
        let (failed, possible): (Vec<&RegisterWrite>, Vec<&RegisterWrite>) = positions
            .iter()
            .map(|&p| &self.writes[p])
            .partition(|w| w.outcome == OpType::Fail);
        if possible.is_empty() {
            Attribution::OnlyFailedWrites(failed)
        } else {
            Attribution::Versions(possible.into_iter().map(Version::Write).collect())
        }
    }

    /// The `ok` writes B with `version ≺ B` that completed strictly before `before` (ns).
    ///
    /// The initial version is superseded by every write; an `info` write supersedes nothing
    /// and is superseded by nothing (it never completed, so no write is known to follow it).
    pub fn superseding(&self, version: Version<'_>, before: u64) -> Superseding<'_> {
        let from = match version {
            Version::Initial => 0,
            Version::Write(w) => match w.end {
                // B must be invoked strictly after A completed.
                Some(end) => self.starts.partition_point(|&s| s <= end),
                None => self.starts.len(),
            },
        };
        if from >= self.ok_by_start.len() {
            return Superseding {
                count: 0,
                earliest: None,
            };
        }
        let count = self.ends.count_below(from, before);
        let first = &self.writes[self.suffix_min_end[from]];
        let earliest = first.end.filter(|&e| e < before).map(|_| first);
        Superseding { count, earliest }
    }
}

/// The version order of every register key in a history.
#[derive(Debug, Default)]
pub struct RegisterVersions {
    keys: BTreeMap<String, KeyVersions>,
}

impl RegisterVersions {
    /// Collects the `write` and `cas` operations of every key.
    pub fn from_history(history: &History) -> RegisterVersions {
        let mut writes: BTreeMap<String, Vec<RegisterWrite>> = BTreeMap::new();
        for op in history.operations() {
            // A keyless history (Jepsen's single register) is one register named "".
            let key = op.invoke.key.clone().unwrap_or_default();
            let key = &key;
            let value = match op.invoke.f {
                Function::Write => op.invoke.value.clone(),
                // A cas that failed (mismatch or otherwise) wrote nothing; an ok or info cas
                // wrote (or may have written) `new`.
                Function::Cas => match op.invoke.value.as_array().map(Vec::as_slice) {
                    Some([_, new]) => new.clone(),
                    _ => continue,
                },
                _ => continue,
            };
            if value.is_null() {
                continue;
            }
            let last = op.last();
            writes
                .entry(key.to_string())
                .or_default()
                .push(RegisterWrite {
                    invoke_index: op.invoke.index,
                    completion_index: op.completion.map(|c| c.index),
                    process: op.invoke.process,
                    value,
                    start: op.start(),
                    end: if op.outcome() == OpType::Ok {
                        op.end()
                    } else {
                        None
                    },
                    outcome: op.outcome(),
                    node: (last.node.as_deref())
                        .or(op.invoke.node.as_deref())
                        .map(str::to_string),
                });
        }
        let keys = writes
            .into_iter()
            .map(|(k, w)| (k, KeyVersions::new(w)))
            .collect();
        RegisterVersions { keys }
    }

    /// The versions of `key`; a key never written has only the initial version.
    pub fn key(&self, key: &str) -> Option<&KeyVersions> {
        self.keys.get(key)
    }

    /// The number of keys written.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// A merge-sort tree over a sequence of times: counts the values below a limit in any suffix in
/// O(log² n). It answers "how many writes invoked after A completed had completed before the
/// read", which a linear scan would make quadratic on long partitions (a replica hundreds of
/// versions behind for thousands of reads).
#[derive(Debug, Default)]
struct SortedRuns {
    size: usize,
    /// Node `i` holds the sorted values of its leaves; leaves start at `size`.
    tree: Vec<Vec<u64>>,
}

impl SortedRuns {
    fn new(values: Vec<u64>) -> SortedRuns {
        let size = values.len().next_power_of_two();
        let mut tree = vec![Vec::new(); 2 * size];
        for (i, v) in values.into_iter().enumerate() {
            tree[size + i] = vec![v];
        }
        for node in (1..size).rev() {
            let (left, right) = (&tree[2 * node], &tree[2 * node + 1]);
            let mut merged = Vec::with_capacity(left.len() + right.len());
            let (mut i, mut j) = (0, 0);
            while i < left.len() || j < right.len() {
                if j >= right.len() || (i < left.len() && left[i] <= right[j]) {
                    merged.push(left[i]);
                    i += 1;
                } else {
                    merged.push(right[j]);
                    j += 1;
                }
            }
            tree[node] = merged;
        }
        SortedRuns { size, tree }
    }

    /// How many values at positions `from..` are strictly below `limit`.
    fn count_below(&self, from: usize, limit: u64) -> usize {
        let below = |node: usize| self.tree[node].partition_point(|&v| v < limit);
        let (mut lo, mut hi) = (from + self.size, 2 * self.size);
        let mut count = 0;
        while lo < hi {
            if lo & 1 == 1 {
                count += below(lo);
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                count += below(hi);
            }
            lo >>= 1;
            hi >>= 1;
        }
        count
    }
}

/// A builder of hand-written register histories for the checkers' unit tests.
#[cfg(test)]
pub(crate) mod test_history {
    use crate::history::{History, Op, OpType, Process};
    use serde_json::{json, Value};

    /// Events are given with times in ms and sorted by time before indices are assigned, so a
    /// test reads as a list of operations with their intervals.
    #[derive(Default)]
    pub struct Builder {
        events: Vec<(u64, usize, Op)>,
    }

    impl Builder {
        pub fn new() -> Builder {
            Builder::default()
        }

        fn push(&mut self, ms: u64, op: Op) {
            let seq = self.events.len();
            self.events.push((ms * 1_000_000, seq, op));
        }

        #[allow(clippy::too_many_arguments)]
        fn op(
            mut self,
            p: u64,
            f: &str,
            start: u64,
            end: Option<u64>,
            outcome: OpType,
            key: &str,
            invoke_value: Value,
            done_value: Value,
        ) -> Builder {
            let mut inv = Op::new(0, 0, Process::Client(p), OpType::Invoke, f);
            inv.key = Some(key.into());
            inv.value = invoke_value;
            inv.node = Some(format!("n{}", p % 3 + 1).into());
            self.push(start, inv.clone());
            if let Some(end) = end {
                let mut done = inv;
                done.op_type = outcome;
                done.value = done_value;
                self.push(end, done);
            }
            self
        }

        /// Process `p` writes `v` to `key` during [start, end] ms, ok.
        pub fn write(self, p: u64, start: u64, end: u64, key: &str, v: i64) -> Builder {
            self.op(
                p,
                "write",
                start,
                Some(end),
                OpType::Ok,
                key,
                json!(v),
                json!(v),
            )
        }

        /// A write whose outcome is unknown (info at `end`).
        pub fn write_info(self, p: u64, start: u64, end: u64, key: &str, v: i64) -> Builder {
            self.op(
                p,
                "write",
                start,
                Some(end),
                OpType::Info,
                key,
                json!(v),
                json!(v),
            )
        }

        /// A write that certainly failed.
        pub fn write_fail(self, p: u64, start: u64, end: u64, key: &str, v: i64) -> Builder {
            self.op(
                p,
                "write",
                start,
                Some(end),
                OpType::Fail,
                key,
                json!(v),
                json!(v),
            )
        }

        /// A cas [old, new], ok.
        pub fn cas(self, p: u64, start: u64, end: u64, key: &str, old: i64, new: i64) -> Builder {
            let v = json!([old, new]);
            self.op(p, "cas", start, Some(end), OpType::Ok, key, v.clone(), v)
        }

        /// Process `p` reads `key` during [start, end] ms and gets `v` (null = absent).
        pub fn read(self, p: u64, start: u64, end: u64, key: &str, v: Value) -> Builder {
            self.op(p, "read", start, Some(end), OpType::Ok, key, Value::Null, v)
        }

        /// A final read (after healing).
        pub fn final_read(mut self, p: u64, start: u64, end: u64, key: &str, v: Value) -> Builder {
            self = self.read(p, start, end, key, v);
            let n = self.events.len();
            for e in &mut self.events[n - 2..] {
                e.2.is_final = true;
            }
            self
        }

        pub fn build(mut self) -> History {
            self.events.sort_by_key(|e| (e.0, e.1));
            let ops = self
                .events
                .into_iter()
                .enumerate()
                .map(|(i, (t, _, mut op))| {
                    op.index = i as u64;
                    op.time = t;
                    op
                })
                .collect();
            History::new(ops).expect("test history pairs")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_history::Builder;
    use super::*;
    use serde_json::json;

    const MS: u64 = 1_000_000;

    fn versions(b: Builder) -> RegisterVersions {
        RegisterVersions::from_history(&b.build())
    }

    #[test]
    fn precedence_is_strict_real_time() {
        // 1 ends at 20; 2 starts at 20 (concurrent: closed intervals); 3 starts at 21.
        let v = versions(
            Builder::new()
                .write(0, 10, 20, "k", 1)
                .write(1, 20, 30, "k", 2)
                .write(2, 21, 31, "k", 3),
        );
        let w = v.key("k").unwrap().writes();
        assert!(!w[0].precedes(&w[1]));
        assert!(w[0].precedes(&w[2]));
        assert!(!w[1].precedes(&w[2]));
    }

    #[test]
    fn superseding_counts_and_finds_earliest() {
        let v = versions(
            Builder::new()
                .write(0, 10, 20, "k", 1)
                .write(1, 25, 40, "k", 2)
                .write(2, 26, 30, "k", 3)
                .write(3, 50, 60, "k", 4),
        );
        let k = v.key("k").unwrap();
        let first = Version::Write(&k.writes()[0]);
        let s = k.superseding(first, 45 * MS);
        assert_eq!(s.count, 2);
        assert_eq!(s.earliest.map(|w| w.value.clone()), Some(json!(3)));
        assert_eq!(
            k.superseding(first, 30 * MS).count,
            0,
            "30 is not before 30"
        );
        assert_eq!(k.superseding(Version::Initial, 100 * MS).count, 4);
    }

    #[test]
    fn info_writes_neither_supersede_nor_are_superseded() {
        let v = versions(
            Builder::new()
                .write_info(0, 10, 20, "k", 1)
                .write(1, 30, 40, "k", 2),
        );
        let k = v.key("k").unwrap();
        let info = Version::Write(&k.writes()[0]);
        assert_eq!(k.superseding(info, 1000 * MS).count, 0);
        assert_eq!(k.superseding(Version::Initial, 1000 * MS).count, 1);
    }

    #[test]
    fn attribution_of_values() {
        let v = versions(
            Builder::new()
                .write_fail(0, 10, 20, "k", 1)
                .cas(1, 30, 40, "k", 0, 2),
        );
        let k = v.key("k").unwrap();
        assert!(matches!(
            k.attribute(&json!(1)),
            Attribution::OnlyFailedWrites(_)
        ));
        assert!(matches!(k.attribute(&json!(2)), Attribution::Versions(v) if v.len() == 1));
        assert!(matches!(k.attribute(&json!(9)), Attribution::NeverWritten));
    }

    #[test]
    fn superseding_agrees_with_brute_force() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut b = Builder::new();
        for v in 0..300 {
            let start = rng.gen_range(0..2_000);
            let end = start + rng.gen_range(0..50);
            b = match rng.gen_range(0..10) {
                0 => b.write_info(v as u64, start, end, "k", v),
                1 => b.write_fail(v as u64, start, end, "k", v),
                _ => b.write(v as u64, start, end, "k", v),
            };
        }
        let v = versions(b);
        let k = v.key("k").unwrap();
        let w = k.writes();
        for _ in 0..2_000 {
            let t = rng.gen_range(0..2_100) * MS;
            let a = rng.gen_range(0..=w.len());
            let version = if a == w.len() {
                Version::Initial
            } else {
                Version::Write(&w[a])
            };
            let expected: Vec<&RegisterWrite> = w
                .iter()
                .filter(|b| b.end.is_some_and(|e| e < t))
                .filter(|b| match version {
                    Version::Initial => true,
                    Version::Write(a) => a.precedes(b),
                })
                .collect();
            let got = k.superseding(version, t);
            assert_eq!(got.count, expected.len());
            let min_end = expected.iter().filter_map(|b| b.end).min();
            assert_eq!(got.earliest.and_then(|b| b.end), min_end);
        }
    }

    #[test]
    fn sorted_runs_count_suffixes() {
        let runs = SortedRuns::new(vec![5, 1, 9, 3, 7]);
        assert_eq!(runs.count_below(0, 6), 3);
        assert_eq!(runs.count_below(2, 8), 2);
        assert_eq!(runs.count_below(4, 7), 0);
        assert_eq!(runs.count_below(5, 100), 0);
    }
}
