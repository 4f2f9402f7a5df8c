//! Writes the report of the test fixture (a small run with faults) to `report.html` in the
//! current directory, for looking at the page by eye: `cargo run -p redline-reports --example
//! fixture_report`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let history = common::history();
    let info = common::run_info();
    let results = common::results();
    let page = redline_reports::render_html(Some(&info), &history, &common::telemetry(), &results)?;
    std::fs::write("report.html", &page)?;
    println!(
        "{}",
        redline_reports::summary_table(Some(&info), &history, &results)
    );
    println!("wrote report.html ({} bytes)", page.len());
    Ok(())
}
