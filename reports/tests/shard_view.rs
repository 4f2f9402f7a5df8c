//! The shard view of the report: drawn for a cluster run (the `shards` checker's statistics and
//! the split-brain slot ranges), absent from a standalone run, and small however many
//! failovers and ranges the run had.

mod common;

use redline_checkers::{Anomaly, CheckResult, Results};
use redline_reports::render_html;
use serde_json::{json, Value};

/// Three shards; shard 1 failed over from n1 to n2 at 800 ms and lost 3 writes; one
/// split-brain range on its slots 0-5460 (n1 and n2), one on shard 3's slot 12000.
fn cluster_results(shards: Value, ranges: usize) -> Results {
    let mut results = common::results();
    let stats = json!({"shards": shards, "redirects": {"moved": 2}, "migrations": []});
    results.checkers.insert(
        "shards".into(),
        CheckResult::from_anomalies(Vec::new(), stats.as_object().unwrap().clone()),
    );
    let anomalies: Vec<Anomaly> = (0..ranges)
        .map(|i| {
            let (lo, hi, nodes) = match i {
                0 => (0, 5460, ["n1", "n2"]),
                _ => (12000 + i as u64, 12000 + i as u64, ["n5", "n6"]),
            };
            Anomaly::new("split-brain", vec![0, 1], format!("Slots {lo}-{hi}: ...")).with_details(
                json!({"nodes": nodes, "slot_range": [lo, hi],
                    "slots": [[lo, hi]], "slot_count": hi - lo + 1,
                    "start_ms": 800.0, "end_ms": 1012.5}),
            )
        })
        .collect();
    results.checkers.insert(
        "split-brain".into(),
        CheckResult::from_anomalies(anomalies, Default::default()),
    );
    results
}

fn shard(n: u64, nodes: [&str; 2], slots: [u64; 2], primaries: Value, lost: u64) -> Value {
    json!({"shard": n, "nodes": nodes, "slots_start": [slots], "slots_end": [slots],
           "primaries": primaries, "ops": {"ok": 100 * n, "fail": n, "info": 1},
           "acknowledged_by": {nodes[0]: 40 * n}, "lost": lost})
}

fn three_shards() -> Value {
    json!([
        shard(
            1,
            ["n1", "n2"],
            [0, 5460],
            json!([{"node": "n1", "epoch": 1, "from_ms": 1.0, "to_ms": 800.0},
                   {"node": "n2", "epoch": 4, "from_ms": 800.0, "to_ms": null}]),
            3
        ),
        shard(
            2,
            ["n3", "n4"],
            [5461, 10921],
            json!([{"node": "n3", "epoch": 2, "from_ms": 1.0, "to_ms": null}]),
            0
        ),
        shard(
            3,
            ["n5", "n6"],
            [10922, 16383],
            json!([{"node": "n5", "epoch": 3, "from_ms": 1.0, "to_ms": null}]),
            0
        ),
    ])
}

fn page(results: &Results) -> String {
    render_html(Some(&common::run_info()), &common::history(), &[], results).expect("renders")
}

#[test]
fn a_cluster_run_has_a_shard_section() {
    let page = page(&cluster_results(three_shards(), 2));
    let section = &page[page
        .find(r#"<section id="shards">"#)
        .expect("shard section")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(
        page.contains(r##"<a href="#shards">shards</a>"##),
        "table of contents"
    );
    assert!(section.contains(r#"<figure class="chart" id="primary-timeline">"#));
    assert_eq!(section.matches("<svg").count(), 1, "one lane chart");
    for text in ["shard 1", "shard 2", "shard 3"] {
        assert!(
            section.contains(&format!(">\n{text}\n</text>")),
            "lane {text}"
        );
    }
    for node in ["n1", "n2", "n3", "n5"] {
        assert!(
            section.contains(&format!(">\n{node}\n</text>")),
            "{node} drawn"
        );
    }
    assert!(
        section.contains(">\nkill n1\n</text>"),
        "faults shaded on the lanes"
    );
    // The table: shard 1's slots, primaries, outcomes, acknowledgements and losses.
    assert!(section.contains(
        "<tr id=\"shard-1\"><td class=\"num\">1</td><td>0-5460</td><td>n1, n2</td>\
         <td>n1 (epoch 1) 1.0–800.0 ms<br>n2 (epoch 4) from 800.0 ms</td>\
         <td class=\"num\">100</td><td class=\"num\">1</td><td class=\"num\">1</td>\
         <td>n1 40</td><td class=\"num fail\">3</td></tr>"
    ));
    // The split-brain ranges, linked to their anomalies.
    assert!(section.contains(
        "<tr><td><a href=\"#anomaly-split-brain-0\">split-brain #1</a></td><td>0-5460</td>\
         <td class=\"num\">1</td><td>n1 and n2</td><td class=\"num\">800.0</td>\
         <td class=\"num\">1012.5</td><td class=\"num\">5461</td></tr>"
    ));
    assert!(section.contains("<td>12001</td><td class=\"num\">3</td><td>n5 and n6</td>"));
    assert!(!page.contains("http://") && !page.contains("https://"));
}

#[test]
fn a_standalone_run_has_none() {
    let page = page(&common::results());
    assert!(!page.contains(r#"id="shards""#));
    assert!(!page.contains("primary-timeline"));
    let mut skipped = common::results();
    skipped.checkers.insert(
        "shards".into(),
        CheckResult::skipped("not a Redis Cluster history"),
    );
    assert!(!self::page(&skipped).contains(r#"id="shards""#));
}

#[test]
fn the_section_stays_small_with_thousands_of_failovers_and_ranges() {
    let flapping: Vec<Value> = (0..5_000)
        .map(|i| {
            let node = if i % 2 == 0 { "n1" } else { "n2" };
            json!({"node": node, "epoch": i, "from_ms": f64::from(i) * 0.2,
                   "to_ms": f64::from(i + 1) * 0.2})
        })
        .collect();
    let shards = json!([shard(1, ["n1", "n2"], [0, 16383], json!(flapping), 0)]);
    let page = page(&cluster_results(shards, 3_000));
    let start = page.find(r#"<section id="shards">"#).unwrap();
    let section = &page[start..start + page[start..].find("</section>").unwrap()];
    assert!(section.len() < 150_000, "{} bytes", section.len());
    assert!(section.contains("and 4980 more (results.json)"));
    assert!(section.contains("2980 more ranges are listed"));
    assert!(section.contains("4600 spans beyond 400 per shard are not drawn"));
}
