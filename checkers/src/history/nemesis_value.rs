//! The shape of a nemesis record's `value`, written and read in one place.
//!
//! The nemesis records what a fault did: the nodes it killed or paused (`["n1"]`), the
//! partition it made (`{"grudge": "isolate-master", "sides": [[..], [..]], "cut": [[a, b], ..]}`),
//! the delay it added (`{"links": [[a, b], ..], "ms": 100, "jitter_ms": 0}`), the node it
//! promoted (`{"node": "n2", "old_master": "n1"}`; its invocation names the `candidate`). The constructors here are what the harness
//! writes; [`NemesisValue`] is what checkers and reports read, tolerant of the other spellings
//! foreign histories use (`"n1"`, `{"nodes": [..]}`, `{"new_master": ..}`).

use serde_json::{json, Value};

/// Nodes a kill, pause, start or resume acted on.
pub fn nodes_value<S: AsRef<str>>(nodes: &[S]) -> Value {
    Value::Array(nodes.iter().map(|n| json!(n.as_ref())).collect())
}

/// A partition: its grudge's name, the two sides, and every directed link cut.
pub fn partition_value(
    grudge: &str,
    sides: (&[String], &[String]),
    cut: &[(String, String)],
) -> Value {
    json!({"grudge": grudge, "sides": [sides.0, sides.1], "cut": cut})
}

/// Link latency: the directed links delayed, and by how much.
pub fn delay_value(links: &[(String, String)], ms: u64, jitter_ms: u64) -> Value {
    json!({"links": links, "ms": ms, "jitter_ms": jitter_ms})
}

/// A change of master: the node that became master (if known) and the one it replaced.
pub fn master_change_value(node: Option<&str>, old_master: &str) -> Value {
    json!({"node": node, "old_master": old_master})
}

/// A promotion about to be tried: `candidate` is not master yet, so no reader may take this
/// record as declaring it (only the completion, a [`master_change_value`], does).
pub fn promotion_intent_value(candidate: &str, old_master: &str) -> Value {
    json!({"candidate": candidate, "old_master": old_master})
}

/// A read-only view of a nemesis record's value.
#[derive(Debug, Clone, Copy)]
pub struct NemesisValue<'a>(pub &'a Value);

impl<'a> NemesisValue<'a> {
    /// The nodes the record names: `["n1"]`, `"n1"`, `{"node": "n1"}` or `{"nodes": [..]}`.
    pub fn nodes(self) -> Vec<&'a str> {
        match self.0 {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            Value::Object(map) => match map.get("node").and_then(Value::as_str) {
                Some(node) => vec![node],
                None => map
                    .get("nodes")
                    .map(|v| NemesisValue(v).nodes())
                    .unwrap_or_default(),
            },
            _ => Vec::new(),
        }
    }

    /// A partition's grudge name (`isolate-master`, `minority`, ...).
    pub fn grudge(self) -> Option<&'a str> {
        self.0.get("grudge").and_then(Value::as_str)
    }

    /// The node a promotion or failover made master, when the record names it.
    pub fn new_master(self) -> Option<&'a str> {
        ["node", "new_master"]
            .iter()
            .find_map(|k| self.0.get(*k).and_then(Value::as_str))
    }

    /// The master a promotion or failover replaced.
    pub fn old_master(self) -> Option<&'a str> {
        self.0.get("old_master").and_then(Value::as_str)
    }

    /// Whether the fault acted on `node`, as far as the record says: a node it names (kill,
    /// pause, power loss, the new master of a promotion), the master a promotion or failover
    /// replaced, an end of a link a partition cut (else a node on either of its sides). `None`
    /// when the record names no node at all (a foreign history's bare `partition`): then no
    /// node can be ruled out.
    pub fn involves(self, node: &str) -> Option<bool> {
        let mut named: Vec<&str> = self.nodes();
        named.extend(self.old_master());
        let strings = |v: Option<&'a Value>| -> Vec<&'a str> {
            v.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        };
        let cut = strings(self.0.get("cut"));
        if cut.is_empty() {
            named.extend(strings(self.0.get("sides")));
        } else {
            named.extend(cut);
        }
        (!named.is_empty()).then(|| named.contains(&node))
    }

    /// The target in a few words, for labels: `n1,n2`, `isolate-master`, `n2 (was n1)`; compact
    /// JSON (at most `limit` characters) for anything else; empty for null.
    pub fn target_words(self, limit: usize) -> String {
        if self.0.is_null() {
            return String::new();
        }
        if let Some(grudge) = self.grudge() {
            return grudge.to_string();
        }
        if self.0.is_object() {
            if let Some(node) = self.new_master() {
                return match self.old_master() {
                    Some(old) => format!("{node} (was {old})"),
                    None => node.to_string(),
                };
            }
        } else {
            let nodes = self.nodes();
            if !nodes.is_empty() {
                return nodes.join(",");
            }
        }
        let text = self.0.to_string();
        if text.chars().count() > limit {
            let cut: String = text.chars().take(limit.saturating_sub(1)).collect();
            format!("{cut}…")
        } else {
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_constructors_write() {
        let v = nodes_value(&["n1", "n2"]);
        assert_eq!(NemesisValue(&v).nodes(), vec!["n1", "n2"]);
        assert_eq!(NemesisValue(&v).target_words(30), "n1,n2");
        let sides = (vec!["n1".to_string()], vec!["n2".to_string()]);
        let v = partition_value("isolate-master", (&sides.0, &sides.1), &[]);
        assert_eq!(NemesisValue(&v).grudge(), Some("isolate-master"));
        let v = master_change_value(Some("n2"), "n1");
        assert_eq!(NemesisValue(&v).new_master(), Some("n2"));
        assert_eq!(NemesisValue(&v).target_words(30), "n2 (was n1)");
        assert_eq!(NemesisValue(&v).nodes(), vec!["n2"]);
    }

    #[test]
    fn says_which_nodes_a_fault_acted_on() {
        let v = nodes_value(&["n1"]);
        assert_eq!(NemesisValue(&v).involves("n1"), Some(true));
        assert_eq!(NemesisValue(&v).involves("n2"), Some(false));
        let sides = (
            vec!["n1".to_string()],
            vec!["n2".to_string(), "n3".to_string()],
        );
        let cut = [("n1".to_string(), "n2".to_string())];
        let v = partition_value("isolate-master", (&sides.0, &sides.1), &cut);
        assert_eq!(NemesisValue(&v).involves("n2"), Some(true));
        assert_eq!(
            NemesisValue(&v).involves("n3"),
            Some(false),
            "n3's links stayed up"
        );
        let v = partition_value("halves", (&sides.0, &sides.1), &[]);
        assert_eq!(NemesisValue(&v).involves("n3"), Some(true));
        let v = promotion_intent_value("n2", "n1");
        assert_eq!(NemesisValue(&v).involves("n1"), Some(true));
        assert_eq!(NemesisValue(&v).involves("n3"), Some(false));
        let v = master_change_value(None, "n1");
        assert_eq!(NemesisValue(&v).involves("n1"), Some(true));
        assert_eq!(NemesisValue(&Value::Null).involves("n1"), None);
        assert_eq!(NemesisValue(&json!({"grudge": "x"})).involves("n1"), None);
    }

    #[test]
    fn reads_foreign_spellings() {
        assert_eq!(NemesisValue(&json!("n3")).nodes(), vec!["n3"]);
        assert_eq!(
            NemesisValue(&json!({"nodes": ["a", "b"]})).nodes(),
            vec!["a", "b"]
        );
        let v = json!({"new_master": "n4"});
        assert_eq!(NemesisValue(&v).new_master(), Some("n4"));
        assert_eq!(NemesisValue(&Value::Null).target_words(30), "");
        let long = json!({"something": "x".repeat(100)});
        assert_eq!(NemesisValue(&long).target_words(10).chars().count(), 10);
    }
}
