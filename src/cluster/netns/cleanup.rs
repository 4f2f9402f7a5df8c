//! Removing what a netns run left behind when its harness could not tear down (SIGKILL, a
//! crash, `std::mem::forget`): namespaces, veths, bridges and nftables tables whose names carry
//! the redline prefix, and the processes still inside those namespaces. Nothing else is touched:
//! every name must match redline's exact pattern (`rl-<6 hex>-<member|br>`, `redline_<6 hex>`)
//! as well as the prefix asked for.

use super::command::{already_gone, ip, run};
use super::names::{is_redline_name, is_redline_table, Tag, NAME_PREFIX, TABLE_PREFIX};
use super::namespace::{kill_inside, remove_link, remove_namespace, NetnsRecord, NETNS_FILE};
use anyhow::{bail, Result};
use std::path::Path;

/// What a cleanup removed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NetnsCleanup {
    /// Namespaces, links, bridges and tables removed, by name.
    pub removed: Vec<String>,
    /// Pids killed inside the namespaces.
    pub killed: Vec<u32>,
    /// What could not be removed, with why.
    pub failures: Vec<String>,
}

/// Removes every namespace, veth, bridge and table whose name starts with `tag_prefix` and has
/// redline's shape, killing the processes inside those namespaces first. `tag_prefix` is `rl-`
/// (every run on the machine: only when no run is live) or a run's tag such as `rl-3fa9c1`.
pub fn cleanup_netns(tag_prefix: &str) -> Result<NetnsCleanup> {
    if !tag_prefix.starts_with(NAME_PREFIX) {
        bail!("refusing to clean up names that do not start with {NAME_PREFIX:?} (got {tag_prefix:?})");
    }
    let ours = |name: &str| name.starts_with(tag_prefix) && is_redline_name(name);
    let table_prefix = format!("{TABLE_PREFIX}{}", &tag_prefix[NAME_PREFIX.len()..]);
    let ours_table = |t: &str| t.starts_with(&table_prefix) && is_redline_table(t);
    let mut report = NetnsCleanup::default();

    let namespaces: Vec<String> = ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| ours(n))
        .map(str::to_string)
        .collect();
    for ns in &namespaces {
        report.killed.extend(kill_inside(ns));
        for table in tables(Some(ns)).into_iter().filter(|t| ours_table(t)) {
            if delete_table(Some(ns), &table) {
                report.removed.push(format!("table inet {table} in {ns}"));
            }
        }
        match remove_namespace(ns, None) {
            Ok(()) => report.removed.push(format!("namespace {ns}")),
            Err(e) => report.failures.push(e),
        }
    }
    // Veths first (a bridge goes once its ports are gone), then bridges.
    let mut links: Vec<String> = link_names()?.into_iter().filter(|l| ours(l)).collect();
    links.sort_by_key(|l| l.ends_with("-br"));
    for link in links {
        match remove_link(&link) {
            Ok(()) => report.removed.push(format!("link {link}")),
            Err(e) => report.failures.push(e),
        }
    }
    // redline installs no table in the root namespace; one found there is removed all the same.
    for table in tables(None).into_iter().filter(|t| ours_table(t)) {
        if delete_table(None, &table) {
            report.removed.push(format!("table inet {table}"));
        }
    }
    Ok(report)
}

/// Cleans up the networks recorded in `netns.json` files under `store` whose harness is no
/// longer running (the `redline cleanup` path), and removes those records.
pub fn cleanup_recorded(store: &Path) -> Result<NetnsCleanup> {
    let mut report = NetnsCleanup::default();
    for file in crate::cluster::pids::find_run_files(store, NETNS_FILE) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(record) = serde_json::from_str::<NetnsRecord>(&text) else {
            continue;
        };
        if crate::cluster::pids::harness_alive(record.harness)
            || Tag::parse(record.tag.as_str()).is_none()
        {
            continue;
        }
        let done = cleanup_netns(record.tag.as_str())?;
        report.removed.extend(done.removed);
        report.killed.extend(done.killed);
        if done.failures.is_empty() {
            let _ = std::fs::remove_file(&file);
        }
        report.failures.extend(done.failures);
    }
    Ok(report)
}

/// Table names of family `inet` in a namespace (`None`: the root namespace).
fn tables(namespace: Option<&str>) -> Vec<String> {
    let out = match namespace {
        Some(ns) => run("ip", &["netns", "exec", ns, "nft", "list", "tables"]),
        None => run("nft", &["list", "tables"]),
    };
    out.unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("table inet "))
        .map(|t| t.trim().to_string())
        .collect()
}

fn delete_table(namespace: Option<&str>, table: &str) -> bool {
    let args = ["delete", "table", "inet", table];
    let result = match namespace {
        Some(ns) => run(
            "ip",
            &[&["netns", "exec", ns, "nft"][..], &args[..]].concat(),
        ),
        None => run("nft", &args),
    };
    match result {
        Ok(_) => true,
        Err(e) => {
            if !already_gone(&e) {
                tracing::warn!("deleting table {table}: {e:#}");
            }
            false
        }
    }
}

/// Every link name of the root namespace (without the `@peer` suffix).
fn link_names() -> Result<Vec<String>> {
    Ok(ip(&["-o", "link", "show"])?
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect())
}
