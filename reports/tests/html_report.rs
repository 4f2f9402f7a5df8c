//! The HTML report of a hand-built run with faults carries every verdict, every witness, one
//! SVG per chart with the fault bands labelled, and names no URL.

mod common;

use redline_reports::render_html;

fn page() -> String {
    let history = common::history();
    let info = common::run_info();
    render_html(
        Some(&info),
        &history,
        &common::telemetry(),
        &common::results(),
    )
    .expect("renders")
}

#[test]
fn shows_every_checker_verdict_and_the_overall_one() {
    let page = page();
    assert!(page.contains(r#"id="overall-verdict">INVALID</span>"#));
    for (checker, class, label) in [
        ("lost-writes", "invalid", "INVALID"),
        ("stale-reads", "invalid", "INVALID"),
        (
            "linearizable",
            "skipped",
            "skipped (reads are served by replicas)",
        ),
        ("session", "unknown", "unknown"),
        ("availability", "valid", "valid"),
    ] {
        let row = format!(r#"<td>{checker}</td><td><span class="verdict {class}">{label}</span>"#);
        assert!(page.contains(&row), "missing verdict row {row}");
    }
    for expectation in [
        "lost-writes=0",
        "stale-reads&lt;=1",
        ">broken<",
        ">held<",
        ">undecided<",
    ] {
        assert!(page.contains(expectation), "missing {expectation}");
    }
}

#[test]
fn header_has_run_facts_and_reproduce_command() {
    let page = page();
    for fact in [
        "set-register-kill",
        "valkey 8.0.2",
        "n1 master :7001, n2 replica :7002, n3 replica :7003",
        "appendonly=yes",
        "<dd>42</dd>",
        "redline test --workload set --nemesis kill:master,partition:isolate-master --seed 42",
    ] {
        assert!(page.contains(fact), "missing {fact}");
    }
}

#[test]
fn every_witness_op_is_listed_and_linked_to_its_window() {
    let page = page();
    for index in [0, 1, 22, 12, 13, 16, 17] {
        assert!(
            page.contains(&format!(r##"<a href="#op-{index}">{index}</a>"##)),
            "no link to op {index}"
        );
        assert!(
            page.contains(&format!(r#"<tr id="op-{index}" class="witness">"#)),
            "no anchor for op {index}"
        );
    }
    assert!(page.contains(r##"<a href="#anomaly-lost-writes-0">lost-writes #1</a>"##));
    assert!(
        page.contains("WAIT acked by 1 of 1 replicas"),
        "ack level of the lost write"
    );
    // Explanations are escaped, not interpreted.
    assert!(page.contains("returned [] &lt;no 1&gt;"));
}

#[test]
fn one_svg_per_chart_with_fault_bands_labelled() {
    let page = page();
    let figures = page.matches(r#"<figure class="chart">"#).count();
    // latency of add, read, write; throughput; staleness; replication lag; AOF buffer and
    // fsyncs; visibility.
    assert_eq!(figures, 8, "charts drawn");
    assert_eq!(page.matches("<svg").count(), figures, "one <svg> per chart");
    assert!(
        !page.contains("chart-omitted"),
        "no chart should be omitted with this fixture"
    );
    for label in ["kill n1", "partition isolate-master"] {
        // plotters writes a text element's content on its own line.
        let in_svg = page.contains(&format!(">\n{label}\n</text>"));
        assert!(in_svg, "fault label {label} not drawn in a chart");
    }
    assert!(page.contains("<td>kill n1</td>"), "fault list");
    assert!(
        page.contains("n2: 1 samples, fsync pending in 1, AOF buffer up to 5 KB"),
        "persistence caption"
    );
    assert!(
        page.contains("<th>persistence just before (INFO persistence)</th>"),
        "persistence beside the faults"
    );
}

#[test]
fn names_no_url_and_runs_no_script() {
    let page = page();
    assert!(!page.contains("http://"), "page names an http:// URL");
    assert!(!page.contains("https://"), "page names an https:// URL");
    assert!(!page.contains("<script"), "page carries a script");
    assert!(!page.contains("<link"), "page links an external resource");
}

#[test]
fn charts_without_data_are_omitted_with_a_note() {
    let history = common::history();
    let results = redline_checkers::Results::new(Default::default());
    let page = render_html(None, &history, &[], &results).expect("renders");
    for chart in [
        "staleness per node",
        "replication offset lag",
        "visibility latency",
    ] {
        assert!(
            page.contains(&format!(
                r#"<p class="note chart-omitted">{chart}: not drawn"#
            )),
            "{chart} should be omitted with a note"
        );
    }
    assert!(page.contains("No test.json"));
    assert!(page.contains("No checker reported an anomaly."));
}
