//! The HTML report of a faulted run, opened in real headless Chromium: it renders to a
//! screenshot, logs no page error, and references nothing on the network. A Redis Cluster
//! run's report renders its shard section (the DOM Chromium built has it); a standalone run's
//! has none.

mod support;

use std::process::Command;
use std::time::Duration;
use support::{run_test, Store};

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

#[test]
fn faulted_run_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        // .ci/run installs Debian's chromium; a developer machine without it skips loudly.
        eprintln!("SKIPPED: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let dom = run_and_render(
        browser,
        &[
            "--workload",
            "set",
            "--nemesis",
            "kill:master",
            "--time-limit",
            "4",
            "--nemesis-interval",
            "1.5",
            "--fault-duration",
            "1",
            "--redis-option",
            "save=",
            "--redis-option",
            "appendonly=no",
            "--seed",
            "5",
        ],
    );
    assert!(
        dom.contains("id=\"charts\""),
        "the DOM Chromium built: {dom:.300}"
    );
    assert!(
        !dom.contains("id=\"shards\""),
        "a standalone run has no shard section"
    );
}

/// A 3-shard x 1-replica cluster run of a few seconds: the report renders, and Chromium's DOM
/// holds the shard section with its lane chart, a row per shard and the split-brain ranges.
#[test]
fn cluster_run_report_renders_its_shard_section() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (apt-get install -y chromium)");
        return;
    };
    let dom = run_and_render(
        browser,
        &[
            "--topology",
            "cluster",
            "--shards",
            "3",
            "--replicas",
            "1",
            "--workload",
            "set",
            "--nemesis",
            "none",
            "--time-limit",
            "3",
            "--seed",
            "5",
        ],
    );
    let start = dom
        .find("<section id=\"shards\">")
        .expect("a shard section");
    let section = &dom[start..start + dom[start..].find("</section>").unwrap()];
    assert!(
        section.contains("id=\"primary-timeline\""),
        "{section:.2000}"
    );
    assert!(
        section.contains("<svg"),
        "the lanes are drawn: {section:.2000}"
    );
    for shard in 1..=3 {
        assert!(
            section.contains(&format!("<tr id=\"shard-{shard}\">")),
            "shard {shard}'s row: {section:.3000}"
        );
    }
    assert!(section.contains("split-brain by slot range"));
}

/// Runs `redline test ARGS`, checks that its report renders (see [`renders`]), and returns the
/// DOM Chromium built from it.
fn run_and_render(browser: &str, args: &[&str]) -> String {
    let store = Store::new();
    let out = run_test(&store, args);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = store.latest().join("report.html");
    renders(browser, &store, &report);
    dump_dom(browser, &report)
}

/// The report names nothing on the network, carries inline SVG, and renders in Chromium to a
/// screenshot that is not blank, with no page error logged.
fn renders(browser: &str, store: &Store, report: &std::path::Path) {
    let html = std::fs::read_to_string(report).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network references"
    );
    assert!(html.contains("<svg"), "charts are inline SVG");

    let shot = store.path().join("report.png");
    let output = chromium_run(browser, report, &format!("--screenshot={}", shot.display()));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium failed: {log}");
    for bad in ["Uncaught", "CONSOLE(", "Failed to load resource"] {
        assert!(
            !log.contains(bad),
            "page error ({bad}) in chromium's log:\n{log}"
        );
    }
    let png = std::fs::metadata(&shot).expect("screenshot written");
    assert!(
        png.len() > 20_000,
        "a blank page would be tiny: {} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("REDLINE_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

/// The DOM headless Chromium built from `report`, serialised.
fn dump_dom(browser: &str, report: &std::path::Path) -> String {
    let output = chromium_run(browser, report, "--dump-dom");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Has headless Chromium load `report` with `action` (a screenshot, a DOM dump), within 90 s.
fn chromium_run(browser: &str, report: &std::path::Path, action: &str) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let (out, err) = (profile.path().join("stdout"), profile.path().join("stderr"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(action)
        .arg(format!("file://{}", report.display()))
        // Files, not pipes: a DOM dump is far larger than a pipe's buffer, and nothing reads
        // a pipe while the loop below waits.
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("chromium starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}
