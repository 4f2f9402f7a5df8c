//! `redline suite` as a CI gate, end to end against real redis-server processes: a suite whose
//! expectation must break exits 1 and names the test; one whose expectation holds exits 0 and
//! leaves suite.json and junit.xml in store/suites/<suite>/<time>/; `redline test --repeat`
//! reports a detection rate. Each run is 2 s of workload.

mod support;

use std::path::Path;
use std::process::Output;
use support::{assert_exit, redline, servers_under, Store};

fn run_suite(store: &Store, text: &str, extra: &[&str]) -> Output {
    let file = store.path().join("suite.toml");
    std::fs::write(&file, text).expect("suite file");
    redline()
        .arg("suite")
        .arg(&file)
        .arg("--store")
        .arg(store.path())
        .args(extra)
        .output()
        .expect("redline runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn suite_json(store: &Store, suite: &str) -> serde_json::Value {
    let dir = store.path().join("suites").join(suite).join("latest");
    let text = std::fs::read_to_string(dir.join("suite.json")).expect("suite.json");
    serde_json::from_str(&text).expect("suite.json parses")
}

#[test]
fn a_broken_expectation_exits_1_and_names_the_test() {
    let store = Store::new();
    // Reads on replicas behind a 100 ms replication delay are stale: no-stale-reads must break.
    let out = run_suite(
        &store,
        r#"
name = "must-break"
[[test]]
name = "replica-reads-delayed"
workload = "register"
read-from = "replicas"
nemesis = "delay:replica-links"
nemesis-interval = 0.6
time-limit = 2
seed = 7
expect = ["no-stale-reads"]
"#,
        &[],
    );
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("BROKEN replica-reads-delayed"), "{text}");
    assert!(text.contains("no-stale-reads"), "{text}");
    let json = suite_json(&store, "must-break");
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["tests"][0]["verdict"], "broken");
    assert_eq!(json["runs"][0]["seed"], 7);
    let junit = store.path().join("suites/must-break/latest/junit.xml");
    let xml = std::fs::read_to_string(junit).expect("junit.xml");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(
        servers_under(store.path()).is_empty(),
        "no server left behind"
    );
}

#[test]
fn expectations_that_hold_exit_0_with_outputs() {
    let store = Store::new();
    let out = run_suite(
        &store,
        r#"
name = "must-hold"
[defaults]
time-limit = 2
nemesis = "none"
[[test]]
name = "set-no-faults"
workload = "set"
repeat = 2
seed = 40
expect = ["no-lost-writes"]
"#,
        &[],
    );
    assert_exit(&out, 0);
    let json = suite_json(&store, "must-hold");
    let runs = json["runs"].as_array().expect("runs");
    let seeds: Vec<u64> = runs.iter().filter_map(|r| r["seed"].as_u64()).collect();
    assert_eq!(seeds, vec![40, 41], "run i uses the base seed + i");
    for r in runs {
        let dir = r["run_dir"].as_str().expect("run folder");
        assert!(Path::new(dir).join("results.json").exists());
    }
    assert_eq!(json["tests"][0]["detection"]["trials"], 2);
    assert!(stdout(&out).contains("held"), "{}", stdout(&out));
}

#[test]
fn a_time_budget_leaves_runs_not_run_and_exits_2() {
    let store = Store::new();
    // The budget is used up by the first run; the second must not count as passed.
    let out = run_suite(
        &store,
        "[[test]]\nname = \"s\"\nnemesis = \"none\"\ntime-limit = 2\nrepeat = 2\n",
        &["--time-budget", "0.5"],
    );
    assert_exit(&out, 2);
    assert!(
        stdout(&out).contains("1 of 2 runs not checked"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn test_repeat_reports_a_detection_rate() {
    let store = Store::new();
    let out = redline()
        .args([
            "test",
            "--workload",
            "set",
            "--nemesis",
            "none",
            "--time-limit",
            "2",
        ])
        .args(["--repeat", "2", "--seed", "5", "--store"])
        .arg(store.path())
        .output()
        .expect("redline runs");
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("0/2 0% [0–66%]"), "{}", stdout(&out));
}
