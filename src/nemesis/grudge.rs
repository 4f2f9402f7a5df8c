//! Partitions as grudges: from the cluster's layout at the moment of the fault, the set of
//! directed links to cut. A grudge between two groups cuts both directions of every link
//! between them; parties are nodes (`n1`), Sentinels (`s1`) and `clients`.

use super::spec::Grudge;
use crate::cluster::backend::Backend;

/// Who is in the cluster when the partition starts.
#[derive(Debug, Clone)]
pub struct Layout {
    pub master: String,
    pub replicas: Vec<String>,
    pub sentinels: Vec<String>,
}

impl Layout {
    /// The cluster's layout now: the master as the harness last made or saw it, the other
    /// nodes as replicas.
    pub fn of<B: Backend>(cluster: &B) -> Layout {
        let master = cluster.master();
        Layout {
            replicas: cluster
                .node_names()
                .into_iter()
                .filter(|n| *n != master)
                .collect(),
            sentinels: cluster.sentinel_names(),
            master,
        }
    }
}

/// The two sides of a partition, plus the cut links.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    pub sides: (Vec<String>, Vec<String>),
    pub links: Vec<(String, String)>,
}

/// Computes the cut for `grudge`; `pick` chooses a replica or a shuffle deterministically.
pub fn cut(grudge: Grudge, layout: &Layout, pick: u64) -> Cut {
    let clients = "clients".to_string();
    let m = layout.master.clone();
    let reps = &layout.replicas;
    let sents = &layout.sentinels;
    // Clients stay linked to both sides unless a grudge puts them on one side.
    let (a, b): (Vec<String>, Vec<String>) = match grudge {
        Grudge::IsolateMaster => {
            let mut rest: Vec<String> = reps.iter().chain(sents).cloned().collect();
            rest.push(clients.clone());
            (vec![m], rest)
        }
        Grudge::IsolateReplica => {
            let victim = pick_from(reps, pick).unwrap_or_else(|| m.clone());
            let mut rest: Vec<String> = std::iter::once(&m)
                .chain(reps)
                .chain(sents)
                .filter(|p| **p != victim)
                .cloned()
                .collect();
            rest.push(clients.clone());
            (vec![victim], rest)
        }
        Grudge::ReplicationCut => (vec![m], reps.clone()),
        Grudge::Halves => {
            let mut all: Vec<String> = std::iter::once(&m)
                .chain(reps)
                .chain(sents)
                .cloned()
                .collect();
            shuffle(&mut all, pick);
            let b = all.split_off(all.len() / 2);
            (all, b)
        }
        Grudge::Minority | Grudge::Majority => {
            // Minority: the master keeps fewer than half of the Sentinels, so the rest can reach
            // quorum and fail over. Majority: it keeps a majority, so no failover may happen.
            let keep = if grudge == Grudge::Minority {
                sents.len().saturating_sub(1) / 2
            } else {
                sents.len() / 2 + 1
            };
            let mut a = vec![m];
            a.extend(sents.iter().take(keep).cloned());
            let b: Vec<String> = reps
                .iter()
                .chain(sents.iter().skip(keep))
                .cloned()
                .collect();
            (a, b)
        }
    };
    between(a, b)
}

/// The cut that separates side `a` from side `b`: both directions of every link between them.
pub fn between(a: Vec<String>, b: Vec<String>) -> Cut {
    let mut links = Vec::new();
    for x in &a {
        for y in &b {
            links.push((x.clone(), y.clone()));
            links.push((y.clone(), x.clone()));
        }
    }
    Cut {
        sides: (a, b),
        links,
    }
}

/// The item `pick` chooses, deterministically.
pub fn pick_from(items: &[String], pick: u64) -> Option<String> {
    if items.is_empty() {
        None
    } else {
        Some(items[(pick % items.len() as u64) as usize].clone())
    }
}

/// A deterministic Fisher-Yates shuffle driven by `seed` (splitmix64).
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            master: "n1".into(),
            replicas: vec!["n2".into(), "n3".into()],
            sentinels: vec!["s1".into(), "s2".into(), "s3".into()],
        }
    }

    fn cuts(c: &Cut, a: &str, b: &str) -> bool {
        c.links.contains(&(a.to_string(), b.to_string()))
    }

    #[test]
    fn isolate_master_cuts_clients_too() {
        let c = cut(Grudge::IsolateMaster, &layout(), 0);
        assert!(cuts(&c, "n1", "clients") && cuts(&c, "clients", "n1"));
        assert!(cuts(&c, "n2", "n1") && cuts(&c, "s3", "n1"));
        assert!(!cuts(&c, "n2", "n3"));
    }

    #[test]
    fn replication_cut_keeps_clients_and_sentinels() {
        let c = cut(Grudge::ReplicationCut, &layout(), 0);
        assert!(cuts(&c, "n1", "n2") && cuts(&c, "n3", "n1"));
        assert!(!cuts(&c, "clients", "n1") && !cuts(&c, "s1", "n1"));
    }

    #[test]
    fn minority_leaves_the_master_with_its_clients_and_one_sentinel() {
        let c = cut(Grudge::Minority, &layout(), 0);
        assert_eq!(c.sides.0, vec!["n1".to_string(), "s1".to_string()]);
        assert!(cuts(&c, "n1", "s2") && cuts(&c, "n2", "n1") && cuts(&c, "s1", "s3"));
        assert!(!cuts(&c, "clients", "n1"));
        let maj = cut(Grudge::Majority, &layout(), 0);
        assert_eq!(maj.sides.0.len(), 3, "master plus two of three Sentinels");
    }

    #[test]
    fn halves_are_deterministic_per_pick() {
        let a = cut(Grudge::Halves, &layout(), 7);
        let b = cut(Grudge::Halves, &layout(), 7);
        assert_eq!(a, b);
        assert_eq!(a.sides.0.len() + a.sides.1.len(), 6);
    }
}
