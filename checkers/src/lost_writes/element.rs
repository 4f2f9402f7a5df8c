//! An element of a set, as the history wrote it: an integer (redline's sets and most of
//! Jepsen's) or any other JSON value (Jepsen's set-full histories add tuples, strings, ...),
//! compared by its canonical JSON text.

use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// One element; integers order numerically and before every other value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetElement {
    Int(i64),
    /// Any other value, as its JSON text (object keys are sorted, so the text is canonical).
    /// Boxed, so an element is 16 bytes: a run has millions.
    #[allow(clippy::box_collection)]
    Other(Box<String>),
}

impl SetElement {
    /// The element a value stands for; `None` for `null` (no element).
    pub fn of(value: &Value) -> Option<SetElement> {
        match value {
            Value::Null => None,
            v => Some(match v.as_i64() {
                Some(i) => SetElement::Int(i),
                None => SetElement::Other(Box::new(v.to_string())),
            }),
        }
    }

    /// The element as JSON again.
    pub fn to_json(&self) -> Value {
        match self {
            SetElement::Int(i) => Value::from(*i),
            SetElement::Other(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        }
    }
}

impl fmt::Display for SetElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetElement::Int(i) => write!(f, "{i}"),
            SetElement::Other(text) => f.write_str(text),
        }
    }
}

impl Serialize for SetElement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A run's lost-writes analysis holds every element of every key.
    #[test]
    fn an_element_is_16_bytes() {
        assert_eq!(std::mem::size_of::<SetElement>(), 16);
    }

    #[test]
    fn integers_and_other_values_are_elements() {
        assert_eq!(SetElement::of(&json!(3)), Some(SetElement::Int(3)));
        assert_eq!(SetElement::of(&Value::Null), None);
        let tuple = SetElement::of(&json!([0, 1])).unwrap();
        assert_eq!(tuple.to_string(), "[0,1]");
        assert_eq!(tuple.to_json(), json!([0, 1]));
        assert!(SetElement::Int(i64::MAX) < tuple);
    }
}
