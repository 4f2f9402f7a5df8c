//! The HTML report of a faulted run, opened in real headless Chromium: it renders to a
//! screenshot, logs no page error, and references nothing on the network.

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
    let store = Store::new();
    let out = run_test(
        &store,
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
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = store.latest().join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network references"
    );
    assert!(html.contains("<svg"), "charts are inline SVG");

    let shot = store.path().join("report.png");
    let output = screenshot(browser, &report, &shot);
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

/// Has headless Chromium load `report` and save a screenshot to `shot`, within 90 s.
fn screenshot(
    browser: &str,
    report: &std::path::Path,
    shot: &std::path::Path,
) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
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
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", report.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}
