//! The fault schedule: decided from the seed before the run starts, written to `test.json`,
//! so the same seed replays the same faults at the same offsets. Targets that depend on the
//! cluster's state (which node is the master then) are resolved when the fault fires, with a
//! random choice (`pick`) that is itself part of the schedule.

use super::spec::{Fault, NemesisSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One planned fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Offset from the start of the workload, in milliseconds.
    pub at_ms: u64,
    /// How long the fault lasts before it is healed (0 for instant faults such as promote).
    pub duration_ms: u64,
    /// The fault, as written in `--nemesis`.
    pub fault: String,
    #[serde(skip)]
    pub kind: Fault,
    /// Deterministic choice among candidate targets.
    pub pick: u64,
}

/// Plans faults every `interval_s` from one interval after the start, each lasting
/// `duration_s`, all ending before `time_limit_s`.
pub fn plan(
    spec: &NemesisSpec,
    seed: u64,
    time_limit_s: f64,
    interval_s: f64,
    duration_s: f64,
) -> Vec<Step> {
    if spec.is_none() {
        return Vec::new();
    }
    // A stream separate from the workload's, so changing one does not shift the other.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_6d65_7369_7321);
    let limit_ms = (time_limit_s * 1000.0) as u64;
    let interval_ms = ((interval_s * 1000.0) as u64).max(1);
    let mut steps = Vec::new();
    let mut at_ms = interval_ms.min(limit_ms / 4).max(1);
    // Bounded: at most one step per interval of the run.
    while at_ms < limit_ms && steps.len() < 100_000 {
        let kind = spec.faults[rng.gen_range(0..spec.faults.len())];
        let instant = matches!(
            kind,
            Fault::Promote | Fault::Failover(_) | Fault::Migrate(_)
        );
        let duration_ms = if instant {
            0
        } else {
            ((duration_s * 1000.0) as u64).min(limit_ms.saturating_sub(at_ms))
        };
        steps.push(Step {
            at_ms,
            duration_ms,
            fault: kind.to_string(),
            kind,
            pick: rng.gen(),
        });
        at_ms += interval_ms;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_schedule() {
        let spec: NemesisSpec = "kill,pause,partition".parse().unwrap();
        let a = plan(&spec, 42, 30.0, 5.0, 3.0);
        let b = plan(&spec, 42, 30.0, 5.0, 3.0);
        assert_eq!(a, b);
        assert_eq!(a.len(), 5, "faults at 5, 10, 15, 20, 25 s");
        assert_ne!(a, plan(&spec, 43, 30.0, 5.0, 3.0));
    }

    #[test]
    fn faults_end_before_the_time_limit() {
        let spec: NemesisSpec = "kill".parse().unwrap();
        for s in plan(&spec, 1, 12.0, 5.0, 4.0) {
            assert!(s.at_ms + s.duration_ms <= 12_000, "{s:?}");
        }
    }

    #[test]
    fn short_runs_still_get_a_fault() {
        let spec: NemesisSpec = "kill".parse().unwrap();
        assert_eq!(plan(&spec, 1, 4.0, 5.0, 3.0).len(), 1);
        assert!(plan(&NemesisSpec::none(), 1, 30.0, 5.0, 3.0).is_empty());
    }
}
