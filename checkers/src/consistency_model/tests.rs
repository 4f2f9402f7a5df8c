//! Elle's own cases (`test/elle/consistency_model_test.clj`), ported.

use super::*;

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn models(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn anomalies_prohibited_by_read_committed() {
    let got: BTreeSet<String> = anomalies_prohibited_by(&models(&["read-committed"]))
        .into_iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        got,
        set(&[
            "dirty-update",
            "G1a",
            "G1b",
            "G1c",
            "G1",
            "G0",
            "PL-1-cycle-exists",
            "PL-2-cycle-exists",
            "cyclic-versions",
            "duplicate-elements",
            "incompatible-order",
            "future-read",
        ])
    );
}

#[test]
fn unknown_models_are_refused() {
    let err = parse_models("stricct-snappshot-isolation").unwrap_err();
    assert!(err.contains("unknown consistency model"), "{err}");
    assert_eq!(
        parse_models("serializable, snapshot-isolation").unwrap(),
        ["serializable", "snapshot-isolation"]
    );
}

fn impossible(anomalies: &[&str]) -> BTreeSet<String> {
    impossible_models(anomalies)
        .into_iter()
        .map(|m| friendly(m).to_string())
        .collect()
}

#[test]
fn impossible_models_of_g_single_and_g_si() {
    assert_eq!(
        impossible(&["G-single"]),
        set(&[
            "consistent-view",
            "forward-consistent-view",
            "strong-serializable",
            "serializable",
            "snapshot-isolation",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
            "update-serializable",
        ])
    );
    assert_eq!(
        impossible(&["G-SI"]),
        set(&[
            "snapshot-isolation",
            "serializable",
            "strong-serializable",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
        ])
    );
}

#[test]
fn impossible_models_of_dirty_update_and_internal() {
    assert_eq!(
        impossible(&["dirty-update"]),
        set(&[
            "read-committed",
            "monotonic-atomic-view",
            "snapshot-isolation",
            "repeatable-read",
            "update-atomic",
            "serializable",
            "strong-serializable",
            "update-serializable",
            "cursor-stability",
            "forward-consistent-view",
            "consistent-view",
            "monotonic-view",
            "monotonic-snapshot-read",
            "causal-cerone",
            "parallel-snapshot-isolation",
            "prefix",
            "read-atomic",
            "strong-session-read-committed",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-read-committed",
            "strong-snapshot-isolation",
        ])
    );
    assert_eq!(
        impossible(&["internal"]),
        set(&[
            "causal-cerone",
            "parallel-snapshot-isolation",
            "prefix",
            "read-atomic",
            "update-atomic",
            "serializable",
            "snapshot-isolation",
            "strong-serializable",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
        ])
    );
}

#[test]
fn boundary_of_nothing_is_empty() {
    assert_eq!(boundary(&[]), (set(&[]), set(&[])));
}

#[test]
fn boundary_of_cyclic_versions() {
    let (not, also) = boundary(&["cyclic-versions"]);
    assert_eq!(not, set(&["read-uncommitted"]));
    assert_eq!(
        also,
        set(&[
            "read-committed",
            "snapshot-isolation",
            "causal-cerone",
            "consistent-view",
            "cursor-stability",
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "monotonic-view",
            "parallel-snapshot-isolation",
            "prefix",
            "read-atomic",
            "repeatable-read",
            "update-atomic",
            "serializable",
            "strong-read-committed",
            "strong-read-uncommitted",
            "strong-serializable",
            "strong-session-read-committed",
            "strong-session-read-uncommitted",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
            "update-serializable",
        ])
    );
}

#[test]
fn boundary_of_internal_g1a_g_single_and_internal_with_g2() {
    assert_eq!(boundary(&["internal"]).0, set(&["read-atomic"]));
    let (not, also) = boundary(&["G1a"]);
    assert_eq!(not, set(&["read-committed"]));
    assert_eq!(
        also,
        set(&[
            "read-atomic",
            "update-atomic",
            "causal-cerone",
            "consistent-view",
            "cursor-stability",
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "monotonic-view",
            "parallel-snapshot-isolation",
            "prefix",
            "repeatable-read",
            "serializable",
            "snapshot-isolation",
            "strong-read-committed",
            "strong-snapshot-isolation",
            "strong-serializable",
            "strong-session-read-committed",
            "strong-session-serializable",
            "strong-session-snapshot-isolation",
            "update-serializable",
        ])
    );
    let (not, also) = boundary(&["G-single"]);
    assert_eq!(not, set(&["consistent-view"]));
    assert_eq!(
        also,
        set(&[
            "snapshot-isolation",
            "serializable",
            "strong-serializable",
            "strong-session-snapshot-isolation",
            "strong-snapshot-isolation",
            "strong-session-serializable",
            "forward-consistent-view",
            "update-serializable",
        ])
    );
    assert_eq!(boundary(&["G2", "internal"]), boundary(&["internal"]));
}

#[test]
fn boundary_of_lost_update_and_g_single_realtime() {
    assert_eq!(
        boundary(&["lost-update"]).0,
        set(&["update-atomic", "cursor-stability"])
    );
    assert_eq!(
        boundary(&["G-single-realtime"]),
        (
            set(&["strong-snapshot-isolation"]),
            set(&["strong-serializable"])
        )
    );
}

#[test]
fn strict_serializable_prohibits_every_cycle_and_its_variants() {
    let p = anomalies_prohibited_by(&models(&["strict-serializable"]));
    for a in [
        "G0",
        "G1c-process",
        "G-single-item-realtime",
        "G2-item",
        "G2-item-realtime",
        "internal",
        "future-read",
        "lost-update",
        "incompatible-order",
    ] {
        assert!(p.contains(a), "{a}");
    }
    let serializable = anomalies_prohibited_by(&models(&["serializable"]));
    assert!(serializable.contains("G2-item"));
    assert!(!serializable.contains("G2-item-realtime"));
    assert!(!serializable.contains("G-single-item-process"));
}
