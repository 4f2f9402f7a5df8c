//! Texts that many records repeat (keys, nodes, errors), held once: a run's tens of millions of
//! records name far fewer keys, a handful of nodes and a few distinct errors, and a string per
//! record would be most of a parsed history's memory. The reader shares every record's texts
//! ([`super::input`]); so does the split of `jepsen.independent` tuples, which names keys after
//! reading ([`super::independent`]).

use std::collections::HashSet;
use std::sync::Arc;

/// The texts held so far.
#[derive(Debug, Default)]
pub(crate) struct Shared(HashSet<Arc<str>>);

impl Shared {
    /// Points `text` at the held copy of its text, holding it first if it is new.
    pub(crate) fn share(&mut self, text: &mut Option<Arc<str>>) {
        let Some(t) = text else {
            return;
        };
        match self.0.get(&**t) {
            Some(held) => *t = Arc::clone(held),
            None => {
                self.0.insert(Arc::clone(t));
            }
        }
    }

    /// The held copy of `text`, holding it first if it is new.
    pub(crate) fn text(&mut self, text: &str) -> Arc<str> {
        match self.0.get(text) {
            Some(held) => Arc::clone(held),
            None => {
                let held: Arc<str> = text.into();
                self.0.insert(Arc::clone(&held));
                held
            }
        }
    }
}
