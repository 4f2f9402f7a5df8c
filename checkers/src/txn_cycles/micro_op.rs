//! Transactions of a list-append history, in a compact form the inference works on.
//!
//! A transaction's value is a list of micro-ops `["append", k, v]` and `["r", k, null | [..]]`
//! (Clojure keyword spellings `":append"` / `":r"` too). Keys may be integers or strings: both
//! are interned into one [`KeyId`] space by their text, so `3` and `"3"` are the same key, as the
//! history reader already does for an op's `key` field. Elements are integers (Elle's and
//! Jepsen's histories); a string element is interned into the same space with a reserved range,
//! so it compares by identity and is printed back as written.
//!
//! Which value is read: the completion's for `ok` transactions (the invocation carries `null`
//! reads), and also the completion's for `info` transactions when it has one (some clients
//! record what they saw before the connection dropped); otherwise the invocation's, whose reads
//! are `null` and so unknown. `fail` transactions keep their appends (for G1a and dirty-update)
//! but their reads say nothing.

use crate::history::{Function, History, Op, OpType, Process, RealtimeOrder};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Dense key number, an index into [`Txns::key_names`].
pub type KeyId = u32;
/// An appended element. Integers stand for themselves; strings are interned (see module doc).
pub type Elem = i64;

/// First element id used for interned string elements (integers this small are not expected).
const STRING_ELEM_BASE: i64 = i64::MIN / 2;

/// A small multiplicative hasher for integer keys: the std SipHash dominates profiles here.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// What one micro-op did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MopKind {
    /// `["append", k, e]` (list-append).
    Append(Elem),
    /// `["w", k, v]` (rw-register).
    Write(Elem),
    /// A read whose list is `Txns::read_elems[start..start + len]`. An `ok` read of `null`
    /// is the empty list (Jepsen's and Elle's spelling), which rw-register reads as the
    /// initial `nil` value.
    Read { start: u32, len: u32 },
    /// A read of a register that returned a value (rw-register).
    ReadValue(Elem),
    /// A read whose result is unknown (`null` in an invocation or an `info` completion).
    UnknownRead,
}

/// One micro-op of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mop {
    pub key: KeyId,
    pub kind: MopKind,
}

/// One transaction: an invocation of `f: "txn"` and its completion.
#[derive(Debug, Clone)]
pub struct Txn {
    /// `Op::index` of the invocation.
    pub invoke_index: u64,
    /// `Op::index` of the completion, or of the invocation when it never completed. Witness
    /// lists cite this.
    pub index: u64,
    pub process: u64,
    pub outcome: OpType,
    /// Invocation time, ns.
    pub start: u64,
    /// Completion time of an `ok` or `fail` transaction, ns; `None` for `info` (open forever).
    pub end: Option<u64>,
    /// `Txns::mops[mop_start..mop_start + mop_len]`.
    pub mop_start: u32,
    pub mop_len: u32,
}

/// Every transaction of a history, with interned keys and flattened micro-ops.
#[derive(Debug, Default)]
pub struct Txns {
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop>,
    pub read_elems: Vec<Elem>,
    pub key_names: Vec<String>,
    string_elems: Vec<String>,
    /// Micro-ops that could not be understood, with their op index (reported as notes).
    pub malformed: Vec<(u64, String)>,
    /// True when the history carries no times, so history order stands in for real time.
    pub times_from_index: bool,
}

impl Txns {
    /// The micro-ops of transaction `t`.
    pub fn mops_of(&self, t: usize) -> &[Mop] {
        let txn = &self.txns[t];
        &self.mops[txn.mop_start as usize..(txn.mop_start + txn.mop_len) as usize]
    }

    /// The list a read returned.
    pub fn read_list(&self, start: u32, len: u32) -> &[Elem] {
        &self.read_elems[start as usize..(start + len) as usize]
    }

    /// The key as written in the history.
    pub fn key_name(&self, key: KeyId) -> &str {
        &self.key_names[key as usize]
    }

    /// An element as written in the history.
    pub fn elem_name(&self, e: Elem) -> String {
        if e >= STRING_ELEM_BASE && e < STRING_ELEM_BASE + self.string_elems.len() as i64 {
            format!("{:?}", self.string_elems[(e - STRING_ELEM_BASE) as usize])
        } else {
            e.to_string()
        }
    }
}

/// Interns keys and string elements while transactions are extracted.
///
/// Ids are handed out in the order transactions are added, which for a streaming reader is
/// completion order. So that ids are exactly those of a pass in invocation order (key ids
/// order a few outputs, e.g. dirty-update anomalies), every interning also records a stamp
/// (transaction number, call number within it), and [`Builder::finish`] renumbers by first
/// stamp.
#[derive(Default)]
struct Interner {
    int_keys: FastMap<i64, KeyId>,
    str_keys: HashMap<String, KeyId>,
    str_elems: HashMap<String, Elem>,
    /// Stamp of the next interning call: transaction number << 32 | call number.
    stamp: u64,
    /// Per key id, the smallest stamp it was interned at.
    key_first: Vec<u64>,
    /// Per string element (by offset from `STRING_ELEM_BASE`), likewise.
    elem_first: Vec<u64>,
}

impl Interner {
    fn seen(first: &mut Vec<u64>, id: usize, stamp: &mut u64) {
        if id == first.len() {
            first.push(*stamp);
        } else {
            first[id] = first[id].min(*stamp);
        }
        *stamp += 1;
    }
}

/// Builds [`Txns`] from operations added one at a time, in any order: each transaction first
/// reserves its place (in invocation order) and is filled in when its completion is known.
#[derive(Default)]
pub struct Builder {
    out: Txns,
    interner: Interner,
    /// The history's record order stands for real time (some record had no time): set by the
    /// caller before [`Builder::finish`].
    pub history_order: bool,
    /// Malformed micro-ops with the transaction they belong to, for invocation-order sorting.
    malformed: Vec<(u32, u64, String)>,
}

impl Builder {
    /// Reserves the next transaction number, in invocation order.
    pub fn reserve(&mut self) -> u32 {
        self.out.txns.push(Txn {
            invoke_index: 0,
            index: 0,
            process: 0,
            outcome: OpType::Info,
            start: 0,
            end: None,
            mop_start: 0,
            mop_len: 0,
        });
        self.out.txns.len() as u32 - 1
    }

    /// Fills in transaction `slot` from its client invocation and completion, if any.
    pub fn fill(&mut self, slot: u32, process: u64, invoke: &Op, completion: Option<&Op>) {
        let out = &mut self.out;
        let outcome = completion.map_or(OpType::Info, |c| c.op_type);
        // Reads are known only from a completion that is not a failure.
        let source = match completion {
            Some(c) if outcome != OpType::Fail && c.value.is_array() => c,
            _ => invoke,
        };
        let reads = match (std::ptr::eq(source, invoke), outcome) {
            (true, _) => Reads::Unknown,
            (false, OpType::Ok) => Reads::Known,
            // An info completion's nil reads are the default value, not an observation.
            (false, _) => Reads::KnownUnlessNil,
        };
        let mop_start = out.mops.len() as u32;
        self.interner.stamp = u64::from(slot) << 32;
        let (scope, list) = micro_ops(&source.value);
        if let Some(list) = list {
            for mop in list {
                match parse_mop(mop, reads, scope, &mut self.interner, out) {
                    Some(m) => out.mops.push(m),
                    None => self.malformed.push((slot, source.index, mop.to_string())),
                }
            }
        }
        let end = match completion {
            Some(c) if c.op_type != OpType::Info => Some(c.time),
            _ => None,
        };
        out.txns[slot as usize] = Txn {
            invoke_index: invoke.index,
            index: completion.unwrap_or(invoke).index,
            process,
            outcome,
            start: invoke.time,
            end,
            mop_start,
            mop_len: out.mops.len() as u32 - mop_start,
        };
    }

    /// The transactions, or `None` when there were none. Every reserved slot must be filled.
    pub fn finish(mut self) -> Option<Txns> {
        if self.out.txns.is_empty() {
            return None;
        }
        renumber(&mut self.out, &self.interner);
        let mut out = self.out;
        in_txn_order(&mut out);
        // Stable: a transaction's malformed micro-ops stay in their order.
        self.malformed.sort_by_key(|&(slot, _, _)| slot);
        out.malformed = self
            .malformed
            .into_iter()
            .map(|(_, index, text)| (index, text))
            .collect();
        if self.history_order {
            // Elle's own histories often carry no times; their order is real-time order.
            out.times_from_index = true;
            for t in &mut out.txns {
                t.start = t.invoke_index;
                if t.end.is_some() {
                    t.end = Some(t.index);
                }
            }
        }
        out.key_names.shrink_to_fit();
        Some(out)
    }
}

/// Extracts every `txn` operation of a history. Returns `None` when there is none.
pub fn extract(history: &History) -> Option<Txns> {
    let mut b = Builder {
        history_order: history.realtime() == RealtimeOrder::HistoryOrder,
        ..Builder::default()
    };
    for op in history.operations() {
        if op.invoke.f != Function::Txn {
            continue;
        }
        let Process::Client(process) = op.invoke.process else {
            continue;
        };
        let slot = b.reserve();
        b.fill(slot, process, op.invoke, op.completion);
    }
    b.finish()
}

/// Stores the micro-ops in transaction order (they were added in completion order), so that
/// global micro-op numbers are those of a pass in invocation order.
fn in_txn_order(out: &mut Txns) {
    if out
        .txns
        .windows(2)
        .all(|w| w[0].mop_start <= w[1].mop_start)
    {
        return;
    }
    let mut mops = Vec::with_capacity(out.mops.len());
    for t in &mut out.txns {
        let start = t.mop_start as usize;
        t.mop_start = mops.len() as u32;
        mops.extend_from_slice(&out.mops[start..start + t.mop_len as usize]);
    }
    out.mops = mops;
}

/// The permutation that numbers ids by their first stamp: `map[old] = new`. `None` when it is
/// the identity (always so when transactions were added in invocation order).
fn first_seen_order(first: &[u64]) -> Option<Vec<u32>> {
    if first.windows(2).all(|w| w[0] < w[1]) {
        return None;
    }
    let mut ids: Vec<u32> = (0..first.len() as u32).collect();
    ids.sort_unstable_by_key(|&i| first[i as usize]);
    let mut map = vec![0u32; first.len()];
    for (new, &old) in ids.iter().enumerate() {
        map[old as usize] = new as u32;
    }
    Some(map)
}

/// Renumbers keys and string elements into first-appearance order in invocation order.
fn renumber(out: &mut Txns, int: &Interner) {
    if let Some(map) = first_seen_order(&int.key_first) {
        for m in &mut out.mops {
            m.key = map[m.key as usize];
        }
        permute(&mut out.key_names, &map);
    }
    if let Some(map) = first_seen_order(&int.elem_first) {
        let n = out.string_elems.len() as i64;
        let remap = |e: &mut Elem| {
            if (STRING_ELEM_BASE..STRING_ELEM_BASE + n).contains(e) {
                *e = STRING_ELEM_BASE + i64::from(map[(*e - STRING_ELEM_BASE) as usize]);
            }
        };
        for m in &mut out.mops {
            if let MopKind::Append(e) | MopKind::Write(e) | MopKind::ReadValue(e) = &mut m.kind {
                remap(e);
            }
        }
        out.read_elems.iter_mut().for_each(remap);
        permute(&mut out.string_elems, &map);
    }
}

/// Moves `v[old]` to `v[map[old]]`.
fn permute(v: &mut Vec<String>, map: &[u32]) {
    let mut slots: Vec<Option<String>> = vec![None; v.len()];
    for (old, s) in std::mem::take(v).into_iter().enumerate() {
        slots[map[old] as usize] = Some(s);
    }
    *v = slots.into_iter().map(Option::unwrap_or_default).collect();
}

/// What a transaction's reads say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// An invocation: nothing was read yet.
    Unknown,
    /// An `ok` completion.
    Known,
    /// An `info` completion: values are observations, `nil` is only the default.
    KnownUnlessNil,
}

/// A transaction's micro-ops, and the key of a `jepsen.independent` tuple `[k, [mops..]]`
/// that scopes them (micro-op keys then read `k/key`). A tuple is unambiguous here: a
/// micro-op is never a scalar.
fn micro_ops(value: &Value) -> (Option<&Value>, Option<&Vec<Value>>) {
    match value.as_array().map(Vec::as_slice) {
        Some([k @ (Value::Number(_) | Value::String(_)), Value::Array(mops)])
            if mops.iter().all(Value::is_array) =>
        {
            (Some(k), Some(mops))
        }
        _ => (None, value.as_array()),
    }
}

fn parse_mop(
    mop: &Value,
    reads: Reads,
    scope: Option<&Value>,
    int: &mut Interner,
    out: &mut Txns,
) -> Option<Mop> {
    let parts = mop.as_array()?;
    if parts.len() != 3 {
        return None;
    }
    let f = parts[0].as_str()?;
    let key = match scope {
        None => intern_key(&parts[1], int, &mut out.key_names)?,
        Some(k) => {
            let scoped = format!("{}/{}", scalar_text(k)?, scalar_text(&parts[1])?);
            intern_key(&Value::String(scoped), int, &mut out.key_names)?
        }
    };
    let elem =
        |v: &Value, int: &mut Interner, out: &mut Txns| intern_elem(v, int, &mut out.string_elems);
    let kind = match (f.trim_start_matches(':'), &parts[2], reads) {
        ("append", v, _) => MopKind::Append(elem(v, int, out)?),
        ("w", v, _) => MopKind::Write(elem(v, int, out)?),
        ("r", _, Reads::Unknown) | ("r", Value::Null, Reads::KnownUnlessNil) => {
            MopKind::UnknownRead
        }
        ("r", Value::Null, _) => MopKind::Read {
            start: out.read_elems.len() as u32,
            len: 0,
        },
        ("r", Value::Array(list), _) => {
            let start = out.read_elems.len() as u32;
            for v in list {
                let e = elem(v, int, out)?;
                out.read_elems.push(e);
            }
            let len = out.read_elems.len() as u32 - start;
            MopKind::Read { start, len }
        }
        ("r", v, _) => MopKind::ReadValue(elem(v, int, out)?),
        _ => return None,
    };
    Some(Mop { key, kind })
}

/// A key or tuple key as text.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn intern_key(v: &Value, int: &mut Interner, names: &mut Vec<String>) -> Option<KeyId> {
    let as_int = match v {
        Value::Number(n) => Some(n.as_i64()?),
        Value::String(s) => s.parse::<i64>().ok().filter(|i| i.to_string() == *s),
        _ => return None,
    };
    let id = if let Some(i) = as_int {
        let next = names.len() as KeyId;
        let id = *int.int_keys.entry(i).or_insert(next);
        if id == next {
            names.push(i.to_string());
        }
        id
    } else {
        let s = v.as_str()?;
        match int.str_keys.get(s) {
            Some(&id) => id,
            None => {
                let id = names.len() as KeyId;
                names.push(s.to_string());
                int.str_keys.insert(s.to_string(), id);
                id
            }
        }
    };
    Interner::seen(&mut int.key_first, id as usize, &mut int.stamp);
    Some(id)
}

fn intern_elem(v: &Value, int: &mut Interner, strings: &mut Vec<String>) -> Option<Elem> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .filter(|i| !(STRING_ELEM_BASE..STRING_ELEM_BASE + (1 << 40)).contains(i)),
        Value::String(s) => {
            let e = match int.str_elems.get(s) {
                Some(&e) => e,
                None => {
                    let e = STRING_ELEM_BASE + strings.len() as i64;
                    strings.push(s.clone());
                    int.str_elems.insert(s.clone(), e);
                    e
                }
            };
            let id = (e - STRING_ELEM_BASE) as usize;
            Interner::seen(&mut int.elem_first, id, &mut int.stamp);
            Some(e)
        }
        _ => None,
    }
}
