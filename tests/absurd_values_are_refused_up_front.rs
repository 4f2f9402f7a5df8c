//! Values that once passed validation and then panicked, allocated without bound, or ran a
//! whole test before failing are refused before anything starts: exit 2, the option named with
//! its accepted range, no run folder, no panic. And a run never records a password.

mod support;

use support::{assert_exit, run_test, walk, Store};

#[test]
fn absurd_numbers_are_refused_naming_the_option_and_its_range() {
    let store = Store::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--rate", "1e-300"],
            "--rate must be 0 (unlimited) or between",
        ),
        (
            &[
                "--workload",
                "list-append",
                "--max-txn-length",
                "18446744073709551615",
            ],
            "--max-txn-length must be between 1 and",
        ),
        (
            &["--time-limit", "1e20"],
            "--time-limit must be a number of seconds",
        ),
        (
            &["--converge-timeout", "1e20"],
            "--converge-timeout must be a number of seconds",
        ),
        (
            &["--keys", "18446744073709551615"],
            "--keys must be between 1 and",
        ),
        (&["--set-size", "0"], "--set-size must be between 1 and"),
        (
            &["--op-timeout", "18446744073709551615"],
            "--op-timeout must be between",
        ),
        (&["--nemesis-interval", "inf"], "--nemesis-interval must be"),
    ];
    for (args, want) in cases {
        let started = std::time::Instant::now();
        let out = run_test(&store, args);
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{args:?} was not refused up front"
        );
    }
    let runs = std::fs::read_dir(store.path()).map_or(0, |d| d.count());
    assert_eq!(runs, 0, "a refused test made a run folder");
}

/// `--time-budget 1e20` passed the positive check and then panicked converting to a duration.
#[test]
fn an_absurd_suite_time_budget_is_refused() {
    let store = Store::new();
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/suites/ci-quick.toml");
    let out = support::redline()
        .args(["suite", suite, "--time-budget", "1e20", "--store"])
        .arg(store.path())
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--time-budget must be a number of seconds"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_test_may_not_be_named_after_the_latest_link() {
    let store = Store::new();
    let out = run_test(&store, &["--name", "latest", "--nemesis", "none"]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--name \"latest\" is reserved"));
}

/// `--redis-option requirepass=...` once landed in test.json, its reproduce command and the
/// report. Whatever the run does with it (here: a server that wants a password does not answer
/// the harness's PING, so the run exits 2), no file the run writes outside the servers' own
/// configs holds it.
#[test]
fn passwords_never_reach_the_run_records() {
    let store = Store::new();
    let out = run_test(
        &store,
        &[
            "--nemesis",
            "none",
            "--time-limit",
            "1",
            "--replicas",
            "1",
            "--redis-option",
            "requirepass=hunter2-secret",
            "--redis-option",
            "masterauth=hunter2-secret",
        ],
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
    let test_json = std::fs::read_to_string(store.latest().join("test.json")).unwrap();
    assert!(test_json.contains("requirepass=<redacted>"), "{test_json}");
    for file in walk(store.path()) {
        let is_server_conf = file.extension().is_some_and(|e| e == "conf");
        let text = std::fs::read(&file).unwrap_or_default();
        let holds = text.windows(7).any(|w| w == b"hunter2");
        assert!(
            is_server_conf || !holds,
            "{} holds the password",
            file.display()
        );
    }
}
