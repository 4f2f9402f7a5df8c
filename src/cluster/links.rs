//! The state of every link between two parties: open, cut, or delayed.
//!
//! A link is directed: `cut(a, b)` stops the bytes *from* `a` *to* `b`. A partition grudge
//! (Jepsen's word: who refuses to hear whom) becomes a set of cut directed links. Proxies ask
//! this table before forwarding each chunk, and wait on it while a link is cut, so healing lets
//! the same TCP connections flow again (as after an iptables DROP rule is lifted).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::RwLock;
use std::time::Duration;
use tokio::sync::watch;

/// A party at one end of a link.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    /// A Redis node (`n1`, ...).
    Node(String),
    /// A Sentinel (`s1`, ...).
    Sentinel(String),
    /// The workload's clients (any connection made by redline itself through a proxy).
    Clients,
}

impl Party {
    pub fn name(&self) -> &str {
        match self {
            Party::Node(n) | Party::Sentinel(n) => n,
            Party::Clients => "clients",
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Latency added to one direction of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub base: Duration,
    /// Uniform extra latency in `0..=jitter`.
    pub jitter: Duration,
}

#[derive(Debug, Default)]
struct Rules {
    cut: HashSet<(Party, Party)>,
    delay: HashMap<(Party, Party), Delay>,
}

/// Shared table of link rules; every change wakes the proxies' waiting pumps.
#[derive(Debug)]
pub struct LinkTable {
    rules: RwLock<Rules>,
    changed: watch::Sender<u64>,
}

impl Default for LinkTable {
    fn default() -> Self {
        LinkTable {
            rules: RwLock::new(Rules::default()),
            changed: watch::channel(0).0,
        }
    }
}

impl LinkTable {
    /// Cuts the directed links `from -> to` for every pair given.
    pub fn cut(&self, pairs: &[(Party, Party)]) {
        self.update(|r| r.cut.extend(pairs.iter().cloned()));
    }

    /// Delays the directed links given.
    pub fn delay(&self, pairs: &[(Party, Party)], delay: Delay) {
        self.update(|r| {
            for p in pairs {
                r.delay.insert(p.clone(), delay);
            }
        });
    }

    /// Lifts every cut.
    pub fn heal_partitions(&self) {
        self.update(|r| r.cut.clear());
    }

    /// Removes every delay.
    pub fn clear_delays(&self) {
        self.update(|r| r.delay.clear());
    }

    /// Lifts every rule.
    pub fn heal_all(&self) {
        self.update(|r| {
            r.cut.clear();
            r.delay.clear();
        });
    }

    pub fn is_cut(&self, from: &Party, to: &Party) -> bool {
        self.read().cut.contains(&(from.clone(), to.clone()))
    }

    pub fn delay_of(&self, from: &Party, to: &Party) -> Option<Delay> {
        self.read().delay.get(&(from.clone(), to.clone())).copied()
    }

    /// The cut links, sorted, for recording in the history.
    pub fn cut_links(&self) -> Vec<(Party, Party)> {
        let mut v: Vec<_> = self.read().cut.iter().cloned().collect();
        v.sort();
        v
    }

    /// A receiver that sees every change of the rules, for a proxy that caches what a link's
    /// rules are and looks again only after a change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Waits until `from -> to` is not cut.
    pub async fn wait_open(&self, from: &Party, to: &Party) {
        let mut rx = self.changed.subscribe();
        while self.is_cut(from, to) {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    fn update(&self, f: impl FnOnce(&mut Rules)) {
        {
            let mut rules = self.rules.write().unwrap_or_else(|p| p.into_inner());
            f(&mut rules);
        }
        self.changed.send_modify(|v| *v += 1);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rules> {
        self.rules.read().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Party {
        Party::Node(s.into())
    }

    #[test]
    fn cuts_are_directed_and_heal() {
        let t = LinkTable::default();
        t.cut(&[(n("n1"), n("n2"))]);
        assert!(t.is_cut(&n("n1"), &n("n2")));
        assert!(!t.is_cut(&n("n2"), &n("n1")));
        t.heal_partitions();
        assert!(!t.is_cut(&n("n1"), &n("n2")));
    }

    #[tokio::test]
    async fn wait_open_returns_after_heal() {
        let t = std::sync::Arc::new(LinkTable::default());
        t.cut(&[(n("n1"), Party::Clients)]);
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.wait_open(&n("n1"), &Party::Clients).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        t.heal_all();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("waiter wakes after heal")
            .expect("task ok");
    }
}
