//! redline-reports: how results reach people and CI systems.
//!
//! PLACEHOLDER map, filled in as the modules land:
//! - `run_info`: what `test.json` says about a run (name, seed, command, server, layout).
//! - `table`: terminal summary tables (tabled).
//! - `junit`: `junit.xml`, one testcase per checker.
//! - `html`: the self-contained `report.html` with SVG charts.
