//! FUSE inode numbers and what they stand for: a backing inode, and its path in the layer
//! (relative to the root; the root is the empty path, inode 1).
//!
//! The kernel names files by the inode numbers we hand out; the backing folder by paths. A
//! backing inode keeps its FUSE number while it lives, whatever it is renamed to (every lookup
//! refreshes the path); once its name is gone (unlinked into the trash, removed by a power
//! loss) it is forgotten, so that a backing inode number the file system hands out again gets a
//! new FUSE number, never a stale one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The root's FUSE inode number.
pub const ROOT: u64 = 1;

#[derive(Debug)]
struct Node {
    /// Its path in the layer, while it has one.
    path: Option<PathBuf>,
    /// The kernel's lookup count: the node is dropped when it reaches 0.
    lookups: u64,
}

/// The table of inodes the kernel knows.
#[derive(Debug)]
pub struct Inodes {
    nodes: HashMap<u64, Node>,
    /// Live backing inode -> FUSE inode.
    by_backing: HashMap<u64, u64>,
    next: u64,
}

impl Inodes {
    /// A table with the root, whose backing inode is `root_backing`.
    pub fn new(root_backing: u64) -> Inodes {
        let root = Node {
            path: Some(PathBuf::new()),
            lookups: 1,
        };
        Inodes {
            nodes: HashMap::from([(ROOT, root)]),
            by_backing: HashMap::from([(root_backing, ROOT)]),
            next: ROOT + 1,
        }
    }

    /// The path of `ino`, while it has one.
    pub fn path(&self, ino: u64) -> Option<&Path> {
        self.nodes.get(&ino)?.path.as_deref()
    }

    /// The kernel looked `path` up and found backing inode `backing`: its FUSE number (kept or
    /// new), counted as one more lookup.
    pub fn looked_up(&mut self, path: &Path, backing: u64) -> u64 {
        let ino = match self.by_backing.get(&backing) {
            Some(&ino) if self.nodes.contains_key(&ino) => ino,
            _ => {
                let ino = self.next;
                self.next += 1;
                self.by_backing.insert(backing, ino);
                ino
            }
        };
        let node = self.nodes.entry(ino).or_insert(Node {
            path: None,
            lookups: 0,
        });
        node.path = Some(path.to_path_buf());
        node.lookups += 1;
        ino
    }

    /// The FUSE number of a live backing inode, if the kernel has it.
    pub fn of_backing(&self, backing: u64) -> Option<u64> {
        self.by_backing.get(&backing).copied()
    }

    /// The kernel dropped `n` lookups of `ino`.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        let gone = match self.nodes.get_mut(&ino) {
            Some(node) => {
                node.lookups = node.lookups.saturating_sub(n);
                node.lookups == 0
            }
            None => false,
        };
        if gone {
            self.nodes.remove(&ino);
            self.by_backing.retain(|_, i| *i != ino);
        }
    }

    /// `from` is now `to` (`None`: it is gone), and so is everything under it.
    pub fn moved(&mut self, from: &Path, to: Option<&Path>) {
        let mut gone = Vec::new();
        for (&ino, node) in self.nodes.iter_mut() {
            let Some(path) = &node.path else { continue };
            let Ok(rest) = path.strip_prefix(from) else {
                continue;
            };
            if ino == ROOT {
                continue;
            }
            match to {
                Some(to) => node.path = Some(to.join(rest)),
                None => {
                    node.path = None;
                    gone.push(ino);
                }
            }
        }
        self.by_backing.retain(|_, ino| !gone.contains(ino));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backing_inode_keeps_its_number_across_renames() {
        let mut t = Inodes::new(100);
        let dir = t.looked_up(Path::new("d"), 7);
        let file = t.looked_up(Path::new("d/f"), 8);
        assert_eq!(t.looked_up(Path::new("d/f"), 8), file);
        t.moved(Path::new("d"), Some(Path::new("e")));
        assert_eq!(t.path(dir), Some(Path::new("e")));
        assert_eq!(t.path(file), Some(Path::new("e/f")));
        assert_eq!(t.path(ROOT), Some(Path::new("")));
    }

    #[test]
    fn a_removed_name_frees_its_backing_number() {
        let mut t = Inodes::new(100);
        let old = t.looked_up(Path::new("dump.rdb"), 9);
        t.moved(Path::new("dump.rdb"), None);
        assert_eq!(t.path(old), None);
        assert_ne!(t.looked_up(Path::new("temp.rdb"), 9), old);
    }

    #[test]
    fn forgotten_inodes_are_dropped() {
        let mut t = Inodes::new(100);
        let f = t.looked_up(Path::new("f"), 5);
        t.looked_up(Path::new("f"), 5);
        t.forget(f, 1);
        assert_eq!(t.of_backing(5), Some(f));
        t.forget(f, 1);
        assert_eq!(t.of_backing(5), None);
        assert_eq!(t.path(f), None);
    }
}
