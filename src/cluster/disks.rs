//! The nodes' lazy disks: each node's data on a `redline-lazyfs` layer of its own, for runs
//! that ask for one (a `power-loss` fault, or a slow disk), on backends whose servers run on
//! this machine (local, netns).
//!
//! In a node's folder, `data/` is the mount (the server's `dir`: RDB, `appendonlydir`) and
//! `disk/` is what it is mounted over: what survives a power loss, and what stays after the
//! run. Configs and logs stay in the node's folder itself, off the layer: a log is evidence,
//! not data under test, and redline writes configs without fsync (the real server would not
//! lose them to a power loss of its own making).

use super::core::ClusterSpec;
use super::transport::{Member, Role};
use anyhow::{Context, Result};
use redline_lazyfs::{LazyDisk, Loss, Options};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The mount in a node's folder.
pub const DATA_DIR: &str = "data";
/// What the mount is over, in a node's folder.
pub const DISK_DIR: &str = "disk";

/// The mounted layers of a run, by node name.
#[derive(Default)]
pub struct Disks {
    by_node: BTreeMap<String, LazyDisk>,
}

impl Disks {
    /// The disks a run's spec asks for: one per node (in its folder), or `None`.
    pub fn for_members<S>(spec: &ClusterSpec, members: &[Member<S>]) -> Result<Option<Disks>> {
        let Some(options) = spec.lazy_disk else {
            return Ok(None);
        };
        let nodes: Vec<(String, PathBuf)> = members
            .iter()
            .filter(|m| m.role == Role::Node)
            .map(|m| (m.name.clone(), m.endpoint.local_dir.clone()))
            .collect();
        Disks::mount(&nodes, options).map(Some)
    }

    /// Mounts a layer for each `(node, folder)`; on an error, the ones mounted already are
    /// unmounted again (by drop).
    pub fn mount(nodes: &[(String, PathBuf)], options: Options) -> Result<Disks> {
        let mut disks = Disks::default();
        for (name, dir) in nodes {
            let disk = LazyDisk::mount(&dir.join(DATA_DIR), &dir.join(DISK_DIR), options)
                .with_context(|| format!("putting {name}'s data dir on a lazy disk"))?;
            disks.by_node.insert(name.clone(), disk);
        }
        Ok(disks)
    }

    /// Where `node` keeps its data (the server's `dir`), if it is on a lazy disk.
    pub fn data_dir(&self, node: &str) -> Option<&Path> {
        self.by_node.get(node).map(LazyDisk::mountpoint)
    }

    /// Drops every write `node`'s data dir has not made durable (its server must be dead).
    pub fn lose_unsynced(&self, node: &str) -> Result<Loss> {
        let disk = self
            .by_node
            .get(node)
            .with_context(|| format!("{node}'s data dir is not on a lazy disk"))?;
        let loss = disk.lose_unsynced();
        tracing::info!("power loss of {node}: {}", loss.summary());
        Ok(loss)
    }

    /// Every mount point, for the pid file that `redline cleanup` reads.
    pub fn mountpoints(&self) -> Vec<PathBuf> {
        self.by_node
            .values()
            .map(|d| d.mountpoint().to_path_buf())
            .collect()
    }

    /// Unmounts every layer (the servers must be stopped first); returns what failed.
    pub fn unmount_all(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        for disk in self.by_node.values_mut() {
            if let Err(e) = disk.unmount() {
                failures.push(format!("{e:#}"));
            }
        }
        failures
    }
}
