//! The shared budget of a linearizability check: a deadline and bytes of search state, across
//! every key and thread. Running out makes a key undecided (`unknown`), never valid.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The shared wall-clock and memory budget of one `check` call, across all keys and threads.
#[derive(Debug)]
pub struct Budget {
    deadline: Option<Instant>,
    memory_limit: usize,
    memory_used: AtomicUsize,
}

impl Budget {
    /// A budget of `time` from now and `memory` bytes of search state.
    pub fn new(time: Duration, memory: usize) -> Budget {
        Budget {
            deadline: Instant::now().checked_add(time),
            memory_limit: memory,
            memory_used: AtomicUsize::new(0),
        }
    }

    /// A budget with the same deadline and its own `memory` bytes, for a side search.
    pub fn child(&self, memory: usize) -> Budget {
        Budget {
            deadline: self.deadline,
            memory_limit: memory,
            memory_used: AtomicUsize::new(0),
        }
    }

    pub(super) fn charge(&self, bytes: usize) -> bool {
        self.memory_used.fetch_add(bytes, Ordering::Relaxed) + bytes <= self.memory_limit
    }

    pub(super) fn release(&self, bytes: usize) {
        self.memory_used.fetch_sub(bytes, Ordering::Relaxed);
    }

    pub(super) fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}
