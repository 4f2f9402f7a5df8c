//! Fault intervals from the nemesis records: what was broken, from when to when.
//!
//! Pairing rules: each fault ends with the event [`Function::heal`] names for it (`kill`→`start`,
//! `pause`→`resume`, `partition`→`heal`, `delay`→`undelay`). An interval starts at the *invocation* of the fault and ends at the
//! *completion* of the healing op, so the shaded band covers every moment the fault may have
//! been in effect. A healing op that names nodes closes only the open faults on those nodes; one
//! that names none (a bare `heal`) closes every open fault of its kind. A fault still open at the
//! end of the history runs to the end and is labelled "not healed". `promote`, `failover` and
//! any other nemesis action are instants. A nemesis op that completed `fail` did nothing and is
//! not drawn.

use redline_checkers::{Function, History, NemesisValue, OpType, Process};
use serde_json::Value;

/// One fault to shade (or, for an instant, to mark with a line) on every time chart.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultBand {
    /// The nemesis function that started it: `kill`, `partition`, `promote`, ...
    pub kind: Function,
    /// `"kill n1"`, `"partition isolate-master"`, `"promote n2"`.
    pub label: String,
    /// The nodes the fault's record names (empty when it names none).
    pub nodes: Vec<String>,
    /// Nanoseconds since the run started.
    pub start: u64,
    /// Equal to `start` for an instant.
    pub end: u64,
    /// True for promote/failover and other point events.
    pub instant: bool,
    /// False when the history ends with the fault still open.
    pub healed: bool,
}

/// Every fault interval and instant of the history, in start order.
pub fn fault_bands(history: &History) -> Vec<FaultBand> {
    let mut bands: Vec<FaultBand> = Vec::new();
    let mut open: Vec<(usize, Vec<&str>)> = Vec::new(); // (band position, nodes)
    for (pos, op) in history.ops().iter().enumerate() {
        if op.process != Process::Nemesis {
            continue;
        }
        let completion = history.partner(pos).map(|p| &history.ops()[p]);
        if !op.is_invoke() && completion.is_some() {
            continue; // a completion, handled with its invocation
        }
        if op.op_type == OpType::Fail || completion.is_some_and(|c| c.op_type == OpType::Fail) {
            continue;
        }
        let value = match (&op.value, completion) {
            (Value::Null, Some(c)) => &c.value,
            (v, _) => v,
        };
        let done_at = completion.map_or(op.time, |c| c.time);
        let nodes = NemesisValue(value).nodes();
        if op.f.heal().is_some() {
            bands.push(FaultBand {
                kind: op.f.clone(),
                label: label_of(&op.f, value),
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
                start: op.time,
                end: done_at,
                instant: false,
                healed: false,
            });
            open.push((bands.len() - 1, nodes));
        } else if !op.f.heals().is_empty() {
            open.retain(|(band, band_nodes)| {
                let b = &mut bands[*band];
                let matches = op.f.heals().contains(&b.kind)
                    && (nodes.is_empty()
                        || band_nodes.is_empty()
                        || band_nodes.iter().any(|n| nodes.contains(n)));
                if matches {
                    b.end = done_at.max(b.start);
                    b.healed = true;
                }
                !matches
            });
        } else {
            bands.push(FaultBand {
                kind: op.f.clone(),
                label: label_of(&op.f, value),
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
                start: op.time,
                end: op.time,
                instant: true,
                healed: true,
            });
        }
    }
    let end = history.end_time();
    for (band, _) in open {
        let b = &mut bands[band];
        b.end = end.max(b.start);
        b.label.push_str(" (not healed)");
    }
    bands
}

/// `"kill n1"`, `"partition isolate-master"`, `"promote n2 (was n1)"`, or the f alone.
fn label_of(f: &Function, value: &Value) -> String {
    let target = NemesisValue(value).target_words(30);
    if target.is_empty() {
        f.to_string()
    } else {
        format!("{f} {target}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::Op;
    use serde_json::json;

    fn nem(index: u64, ms: u64, t: OpType, f: &str, value: Value) -> Op {
        let mut op = Op::new(index, ms * 1_000_000, Process::Nemesis, t, f);
        op.value = value;
        op
    }

    #[test]
    fn pairs_faults_with_their_heals_by_node() {
        let h = History::new(vec![
            nem(0, 100, OpType::Invoke, "kill", json!(["n1"])),
            nem(1, 110, OpType::Info, "kill", json!(["n1"])),
            nem(2, 120, OpType::Invoke, "kill", json!(["n2"])),
            nem(3, 130, OpType::Info, "kill", json!(["n2"])),
            nem(4, 200, OpType::Invoke, "start", json!(["n2"])),
            nem(5, 210, OpType::Info, "start", json!(["n2"])),
            nem(
                6,
                300,
                OpType::Invoke,
                "partition",
                json!({"grudge": "isolate-master"}),
            ),
            nem(
                7,
                310,
                OpType::Info,
                "partition",
                json!({"grudge": "isolate-master"}),
            ),
            nem(
                8,
                400,
                OpType::Invoke,
                "promote",
                json!({"node": "n3", "old_master": "n1"}),
            ),
            nem(9, 410, OpType::Info, "promote", Value::Null),
            nem(10, 500, OpType::Invoke, "heal", Value::Null),
            nem(11, 510, OpType::Info, "heal", Value::Null),
        ])
        .unwrap();
        let bands = fault_bands(&h);
        let labels: Vec<&str> = bands.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "kill n1 (not healed)",
                "kill n2",
                "partition isolate-master",
                "promote n3 (was n1)"
            ]
        );
        assert_eq!((bands[1].start, bands[1].end), (120_000_000, 210_000_000));
        assert_eq!((bands[2].start, bands[2].end), (300_000_000, 510_000_000));
        assert!(bands[3].instant);
        assert!(!bands[0].healed);
        assert_eq!(bands[0].end, 510_000_000);
    }
}
