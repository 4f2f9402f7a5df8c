//! `jepsen.independent` histories: every client operation's value is a tuple `[k v]`, meaning
//! key `k`, value `v` (Jepsen runs one single-key test per `k` in one history).
//!
//! Whether a history is independent is decided for the whole history, never per record: a
//! compare-and-set's `[old new]` or a write of a two-element list look like tuples on their
//! own. A history is independent when it has a client operation other than a transaction and
//! every such record (invocation and completion) has a value `[k v]` with `k` an integer or a
//! string, no record names a `key` of its own, and every `cas` tuple holds `[old new]`. Then
//! each of those records gets `key` k and value v, for every checker alike. Transactions keep
//! their value: a transaction `[k [micro-ops..]]` is unambiguous on its own, and its
//! micro-ops' keys are scoped by k where they are read (txn-cycles, rw-register).

use super::shared::Shared;
use super::{Function, Op};
use serde_json::Value;

/// Splits the tuples of an independent history into key and value; returns whether it was one.
pub fn split(ops: &mut [Op]) -> bool {
    let mut considered = ops
        .iter()
        .filter(|o| o.is_client() && o.f != Function::Txn)
        .peekable();
    if considered.peek().is_none() || !considered.all(is_tuple) {
        return false;
    }
    let mut keys = Shared::default();
    for op in ops
        .iter_mut()
        .filter(|o| o.is_client() && o.f != Function::Txn)
    {
        if let Value::Array(mut pair) = std::mem::take(&mut op.value) {
            op.value = pair.pop().unwrap_or(Value::Null);
            op.key = pair.pop().and_then(|k| match k {
                Value::String(s) => Some(keys.text(&s)),
                Value::Number(n) => Some(keys.text(&n.to_string())),
                _ => None,
            });
        }
    }
    true
}

fn is_tuple(op: &Op) -> bool {
    let Some([k, v]) = op.value.as_array().map(Vec::as_slice) else {
        return false;
    };
    let key_ok = k.is_string() || k.as_i64().is_some();
    let value_ok = op.f != Function::Cas || v.as_array().is_some_and(|a| a.len() == 2);
    op.key.is_none() && key_ok && value_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};
    use serde_json::json;

    fn op(f: &str, value: Value) -> Op {
        Op {
            value,
            ..Op::new(0, 0, Process::Client(0), OpType::Invoke, f)
        }
    }

    #[test]
    fn a_history_of_tuples_is_split_into_key_and_value() {
        let mut ops = vec![
            op("add", json!([3, 7])),
            op("read", json!([3, null])),
            op("cas", json!(["k", [1, 2]])),
        ];
        assert!(split(&mut ops));
        assert_eq!(ops[0].key.as_deref(), Some("3"));
        // One key, one copy of its text.
        let (k0, k1) = (ops[0].key.as_ref().unwrap(), ops[1].key.as_ref().unwrap());
        assert!(std::sync::Arc::ptr_eq(k0, k1));
        assert_eq!(ops[0].value, json!(7));
        assert_eq!(ops[1].value, Value::Null);
        assert_eq!(ops[2].value, json!([1, 2]));
    }

    #[test]
    fn one_record_that_is_not_a_tuple_keeps_the_history_as_it_is() {
        // elle-cli's set_full.json: tuple adds, but a plain list as the read's result.
        let mut ops = vec![op("add", json!([0, 1])), op("read", json!([0, 1, 2]))];
        assert!(!split(&mut ops));
        assert_eq!(ops[0].value, json!([0, 1]));
        // A plain cas-register history: [old new] is not a tuple of a key and a value.
        let mut ops = vec![op("cas", json!([3, 4])), op("cas", json!([4, 5]))];
        assert!(!split(&mut ops));
        assert!(ops[0].key.is_none());
    }
}
