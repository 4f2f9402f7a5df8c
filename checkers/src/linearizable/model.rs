//! Sequential specifications the linearizability search checks against (Porcupine's `Model`).
//!
//! A model is a small value type: an initial state, a `step` that either gives the next state or
//! refuses the operation, and descriptions for explanations. Register values are interned to
//! [`Value`] ids by [`Values`] so that states are small `Copy` integers the search can hash and
//! compare cheaply; id 0 is JSON null, which for a register means "the key is absent" and is the
//! initial state.

use serde_json::Value as Json;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// An interned register value; [`NULL`] (0) is the absent key.
pub type Value = u32;

/// The interned id of JSON null: the key does not exist.
pub const NULL: Value = 0;

/// Not a value of the history: stands for any value that no op left mentions (see
/// [`super::relevance`]), in the search's cache keys and as a window's start state.
pub const UNMENTIONED: Value = u32::MAX;

/// A sequential specification: what one operation does to the state, or that it cannot happen.
pub trait Model {
    /// The object's state; small and cheap to hash, as the search caches (linearized set, state).
    type State: Copy + Eq + Hash + Debug;
    /// One operation as the model sees it (its arguments and, for reads, what it returned).
    type Input: Clone + Debug;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// The state after `input` takes effect in `state`, or `None` when it cannot happen there
    /// (a read that returned a value the register does not hold, a cas whose compare fails).
    fn step(&self, state: Self::State, input: &Self::Input) -> Option<Self::State>;
    /// The operation in words, e.g. `write 3`, `cas 3->4`.
    fn describe_op(&self, input: &Self::Input) -> String;
    /// The state in words, e.g. `4` or `nil`.
    fn describe_state(&self, state: Self::State) -> String;
}

/// One register operation, with interned values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    /// A read that returned this value (NULL: the key was absent).
    Read(Value),
    /// A blind write (SET).
    Write(Value),
    /// A compare-and-set from `old` to `new` that took effect (or, for `info`, may have).
    Cas(Value, Value),
    /// A cas that failed with `"error":"mismatch"`: at its linearization point the register did
    /// not hold this value. It is read-like: it changes nothing, and is legal only when the state
    /// differs from `old`.
    CasMismatch(Value),
}

impl RegisterInput {
    /// The value this operation leaves in the register when it takes effect, if it writes.
    pub fn written(&self) -> Option<Value> {
        match *self {
            RegisterInput::Write(v) | RegisterInput::Cas(_, v) => Some(v),
            _ => None,
        }
    }

    /// Is this a blind write (not a cas)?
    pub fn written_blindly(&self) -> bool {
        matches!(self, RegisterInput::Write(_))
    }

    /// Is this a cas of either kind?
    pub fn is_cas(&self) -> bool {
        matches!(self, RegisterInput::Cas(..) | RegisterInput::CasMismatch(_))
    }
}

/// Interns JSON values to [`Value`] ids and keeps them for explanations.
///
/// Integers (what redline's and Jepsen's registers hold) are looked up as integers; any other
/// value by its JSON text, so equal JSON texts get equal ids either way.
#[derive(Debug, Clone)]
pub struct Values {
    ints: HashMap<i64, Value, BuildHasherDefault<MixHasher>>,
    others: HashMap<String, Value>,
    /// Per id: the value.
    shown: Vec<Shown>,
    unobserved: Option<Value>,
}

/// A value as recorded, in 16 bytes for the common integer.
#[derive(Debug, Clone)]
enum Shown {
    Int(i64),
    Other(Box<Json>),
    /// The id of values no op observes (`key_history`).
    Unobserved,
}

impl Default for Values {
    fn default() -> Self {
        Values {
            ints: HashMap::default(),
            others: HashMap::from([("null".to_string(), NULL)]),
            shown: vec![Shown::Other(Box::new(Json::Null))],
            unobserved: None,
        }
    }
}

impl Values {
    /// The id of a JSON value; equal JSON texts get equal ids.
    pub fn intern(&mut self, value: &Json) -> Value {
        let next = self.shown.len() as Value;
        let (id, shown) = match value.as_i64() {
            Some(i) => (*self.ints.entry(i).or_insert(next), Shown::Int(i)),
            None => (
                *self.others.entry(value.to_string()).or_insert(next),
                Shown::Other(Box::new(value.clone())),
            ),
        };
        if id == next {
            self.shown.push(shown);
        }
        id
    }

    /// The id standing for every written value that no op observes (`key_history`).
    pub fn unobserved(&mut self) -> Value {
        if let Some(id) = self.unobserved {
            return id;
        }
        let id = self.shown.len() as Value;
        self.shown.push(Shown::Unobserved);
        self.unobserved = Some(id);
        id
    }

    /// The value as JSON text (`nil` for null).
    pub fn text(&self, value: Value) -> String {
        match self.shown.get(value as usize) {
            Some(Shown::Int(i)) => i.to_string(),
            Some(Shown::Other(v)) if v.is_null() => "nil".to_string(),
            Some(Shown::Other(v)) => v.to_string(),
            Some(Shown::Unobserved) => "a value no op observed".to_string(),
            None => "?".to_string(),
        }
    }

    /// Ids handed out so far: every id is below this.
    pub fn len(&self) -> usize {
        self.shown.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }
}

/// A fast hasher for integer keys (SipHash's resistance to chosen keys buys nothing here: a
/// history that collides its own values only slows its own check).
#[derive(Default)]
pub struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
}

/// A read/write register (GET/SET). Refuses cas inputs: use [`CasRegister`] for those.
#[derive(Debug, Clone)]
pub struct Register<'a> {
    pub values: &'a Values,
}

/// A register with compare-and-set (GET/SET/a CAS script).
#[derive(Debug, Clone)]
pub struct CasRegister<'a> {
    pub values: &'a Values,
}

fn register_step(state: Value, input: &RegisterInput) -> Option<Value> {
    match *input {
        RegisterInput::Read(v) => (v == state).then_some(state),
        RegisterInput::Write(v) => Some(v),
        RegisterInput::Cas(old, new) => (old == state).then_some(new),
        RegisterInput::CasMismatch(old) => (old != state).then_some(state),
    }
}

/// An operation in words, with its values as JSON text.
pub fn describe(values: &Values, input: &RegisterInput) -> String {
    match *input {
        RegisterInput::Read(v) => format!("read of {}", values.text(v)),
        RegisterInput::Write(v) => format!("write {}", values.text(v)),
        RegisterInput::Cas(o, n) => format!("cas {}->{}", values.text(o), values.text(n)),
        RegisterInput::CasMismatch(o) => {
            format!("cas from {} that failed (mismatch)", values.text(o))
        }
    }
}

impl Model for Register<'_> {
    type State = Value;
    type Input = RegisterInput;
    fn init(&self) -> Value {
        NULL
    }
    fn step(&self, state: Value, input: &RegisterInput) -> Option<Value> {
        if input.is_cas() {
            return None;
        }
        register_step(state, input)
    }
    fn describe_op(&self, input: &RegisterInput) -> String {
        describe(self.values, input)
    }
    fn describe_state(&self, state: Value) -> String {
        self.values.text(state)
    }
}

impl Model for CasRegister<'_> {
    type State = Value;
    type Input = RegisterInput;
    fn init(&self) -> Value {
        NULL
    }
    fn step(&self, state: Value, input: &RegisterInput) -> Option<Value> {
        register_step(state, input)
    }
    fn describe_op(&self, input: &RegisterInput) -> String {
        describe(self.values, input)
    }
    fn describe_state(&self, state: Value) -> String {
        self.values.text(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mismatch_cas_is_legal_only_when_the_register_differs() {
        let values = Values::default();
        let m = CasRegister { values: &values };
        assert_eq!(m.step(3, &RegisterInput::CasMismatch(3)), None);
        assert_eq!(m.step(4, &RegisterInput::CasMismatch(3)), Some(4));
        assert_eq!(m.step(3, &RegisterInput::Cas(3, 5)), Some(5));
        assert_eq!(m.step(NULL, &RegisterInput::Read(NULL)), Some(NULL));
    }

    #[test]
    fn plain_register_refuses_cas_and_interning_is_stable() {
        let mut values = Values::default();
        let a = values.intern(&json!(7));
        assert_eq!(values.intern(&json!(7)), a);
        assert_eq!(values.intern(&json!(null)), NULL);
        let m = Register { values: &values };
        assert_eq!(m.step(a, &RegisterInput::Cas(a, a)), None);
        assert_eq!(m.describe_op(&RegisterInput::Write(a)), "write 7");
    }
}
