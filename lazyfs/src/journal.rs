//! The undo journal: for every operation that is not durable yet, what it takes to undo it.
//!
//! Operations reach the backing folder at once; the journal is told *before* each one. Two
//! kinds of record, made durable by different events (see the crate doc for why):
//!
//! - per file (keyed by the backing inode, so renames and unlinks do not lose track of it): the
//!   size it had when it was last made durable, and the before-image of every durable byte
//!   overwritten or cut since. An `fsync` of the file forgets its record.
//! - one list of directory entry operations, in order. Any `fsync` forgets the whole list (the
//!   journal commit), and deletes for good what unlink and rename-over put in the trash.
//!
//! A power loss undoes file data through the file's own descriptor (whatever its name is now),
//! then the directory operations newest first: since the list is only ever emptied whole, every
//! undo finds the names exactly as its operation left them.

use crate::loss::{FileLoss, Loss};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _};
use std::path::{Path, PathBuf};

/// Unsynced changes of one file since it was last made durable.
#[derive(Debug)]
struct FileUndo {
    /// A descriptor of the file, readable and writable, that stays valid across renames.
    file: File,
    /// The file's path in the layer when it was last written, for the report.
    path: PathBuf,
    /// The size the disk holds.
    synced_len: u64,
    /// Before-images `(offset, bytes)` of durable bytes changed since, oldest first.
    before: Vec<(u64, Vec<u8>)>,
}

/// A directory entry operation not committed yet, and how to take it back.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NameUndo {
    /// A file or folder was created: remove it.
    Created { path: PathBuf },
    /// `from` was renamed to `to`: rename it back.
    Renamed { from: PathBuf, to: PathBuf },
    /// An entry was unlinked or replaced: it waits in the trash until the commit.
    Trashed { path: PathBuf, trashed: PathBuf },
    /// An empty folder was removed: make it again.
    RemovedDir { path: PathBuf, mode: u32 },
}

/// A name a power loss moved: from, to (`None`: removed).
pub type Move = (PathBuf, Option<PathBuf>);

/// Everything a power loss would take back now.
#[derive(Debug)]
pub struct Journal {
    backing: PathBuf,
    trash: PathBuf,
    names: Vec<NameUndo>,
    files: HashMap<u64, FileUndo>,
    trashed_so_far: u64,
}

impl Journal {
    /// A journal for the backing folder `backing`; unlinked entries wait in `trash` (a folder on
    /// the same file system, created here), until the commit deletes them.
    pub fn new(backing: &Path, trash: &Path) -> io::Result<Journal> {
        std::fs::create_dir_all(trash)?;
        Ok(Journal {
            backing: backing.to_path_buf(),
            trash: trash.to_path_buf(),
            names: Vec::new(),
            files: HashMap::new(),
            trashed_so_far: 0,
        })
    }

    /// The backing path of `rel` (a path in the layer, relative to its root).
    pub fn abs(&self, rel: &Path) -> PathBuf {
        self.backing.join(rel)
    }

    /// Before `len` bytes are written at `offset` to `file` (backing inode `key`, at `rel`).
    pub fn before_write(
        &mut self,
        key: u64,
        file: &File,
        rel: &Path,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        let undo = self.file_undo(key, file, rel)?;
        let end = (offset + len).min(undo.synced_len);
        undo.save(offset, end)
    }

    /// Before `file` (backing inode `key`, at `rel`) is truncated or extended to `new_len`.
    pub fn before_truncate(
        &mut self,
        key: u64,
        file: &File,
        rel: &Path,
        new_len: u64,
    ) -> io::Result<()> {
        let undo = self.file_undo(key, file, rel)?;
        let now = undo.file.metadata()?.len();
        let end = now.min(undo.synced_len);
        undo.save(new_len, end)
    }

    fn file_undo(&mut self, key: u64, file: &File, rel: &Path) -> io::Result<&mut FileUndo> {
        use std::collections::hash_map::Entry;
        match self.files.entry(key) {
            Entry::Occupied(e) => {
                let undo = e.into_mut();
                undo.path = rel.to_path_buf();
                Ok(undo)
            }
            Entry::Vacant(e) => Ok(e.insert(FileUndo {
                synced_len: file.metadata()?.len(),
                file: file.try_clone()?,
                path: rel.to_path_buf(),
                before: Vec::new(),
            })),
        }
    }

    /// The file with backing inode `key` was fsynced: its data is durable.
    pub fn file_synced(&mut self, key: u64) {
        self.files.remove(&key);
    }

    /// Every directory entry operation so far is durable (any fsync): what waited in the trash
    /// is deleted for good.
    pub fn commit_names(&mut self) {
        for undo in self.names.drain(..) {
            if let NameUndo::Trashed { trashed, .. } = undo {
                let removed = match std::fs::symlink_metadata(&trashed) {
                    Ok(m) if m.is_dir() => std::fs::remove_dir_all(&trashed),
                    _ => std::fs::remove_file(&trashed),
                };
                if let Err(e) = removed {
                    tracing::warn!("deleting {}: {e}", trashed.display());
                }
            }
        }
    }

    /// `rel` was created (a file or a folder).
    pub fn created(&mut self, rel: &Path) {
        self.names.push(NameUndo::Created {
            path: rel.to_path_buf(),
        });
    }

    /// `from` was renamed to `to` (whatever `to` was is in the trash already).
    pub fn renamed(&mut self, from: &Path, to: &Path) {
        self.names.push(NameUndo::Renamed {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
    }

    /// The empty folder `rel`, with permission bits `mode`, was removed.
    pub fn removed_dir(&mut self, rel: &Path, mode: u32) {
        self.names.push(NameUndo::RemovedDir {
            path: rel.to_path_buf(),
            mode,
        });
    }

    /// Unlinks `rel` by moving it to the trash, where it waits for the commit (or for a power
    /// loss, which puts it back). Used for `unlink` and for the target a rename replaces.
    pub fn trash(&mut self, rel: &Path) -> io::Result<()> {
        self.trashed_so_far += 1;
        let trashed = self.trash.join(self.trashed_so_far.to_string());
        std::fs::rename(self.abs(rel), &trashed)?;
        self.names.push(NameUndo::Trashed {
            path: rel.to_path_buf(),
            trashed,
        });
        Ok(())
    }

    /// Whether anything would be lost now.
    pub fn is_clean(&self) -> bool {
        self.names.is_empty() && self.files.is_empty()
    }

    /// The power loss: every unsynced write and every uncommitted directory operation is taken
    /// back. Returns what was dropped, and the names it moved (`from`, `to`; `None`: removed)
    /// so that the caller can follow them.
    pub fn lose_unsynced(&mut self) -> (Loss, Vec<Move>) {
        let mut loss = Loss::default();
        let mut files: Vec<FileUndo> = self.files.drain().map(|(_, f)| f).collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for undo in files {
            match undo.roll_back() {
                Ok(file_loss) => loss.files.push(file_loss),
                Err(e) => loss.failures.push(format!("{}: {e}", undo.path.display())),
            }
        }
        let mut moves = Vec::new();
        while let Some(undo) = self.names.pop() {
            match self.undo_name(&undo, &mut moves) {
                Ok(words) => loss.entries.push(words),
                Err(e) => loss.failures.push(format!("undoing {undo:?}: {e}")),
            }
        }
        (loss, moves)
    }

    /// Takes back one directory operation; says what it took back.
    fn undo_name(&self, undo: &NameUndo, moves: &mut Vec<Move>) -> io::Result<String> {
        match undo {
            NameUndo::Created { path } => {
                let abs = self.abs(path);
                match std::fs::symlink_metadata(&abs)?.is_dir() {
                    true => std::fs::remove_dir_all(&abs)?,
                    false => std::fs::remove_file(&abs)?,
                }
                moves.push((path.clone(), None));
                Ok(format!("created {}", path.display()))
            }
            NameUndo::Renamed { from, to } => {
                std::fs::rename(self.abs(to), self.abs(from))?;
                moves.push((to.clone(), Some(from.clone())));
                Ok(format!("renamed {} to {}", from.display(), to.display()))
            }
            NameUndo::Trashed { path, trashed } => {
                std::fs::rename(trashed, self.abs(path))?;
                Ok(format!("unlinked {}", path.display()))
            }
            NameUndo::RemovedDir { path, mode } => {
                std::fs::DirBuilder::new()
                    .mode(*mode)
                    .create(self.abs(path))?;
                Ok(format!("removed folder {}", path.display()))
            }
        }
    }

    /// Deletes the trash folder (a clean unmount: what is in it was unlinked for good).
    pub fn remove_trash(&mut self) {
        self.names.clear();
        self.files.clear();
        if let Err(e) = std::fs::remove_dir_all(&self.trash) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!("removing {}: {e}", self.trash.display());
            }
        }
    }
}

impl FileUndo {
    /// Saves the before-image of the durable bytes in `start..end`, if any.
    fn save(&mut self, start: u64, end: u64) -> io::Result<()> {
        if start >= end {
            return Ok(());
        }
        let mut bytes = vec![0; (end - start) as usize];
        let read = read_full_at(&self.file, &mut bytes, start)?;
        bytes.truncate(read);
        if !bytes.is_empty() {
            self.before.push((start, bytes));
        }
        Ok(())
    }

    /// Puts the durable bytes back (newest image first, so the oldest wins) and the durable
    /// size; says how much was dropped.
    fn roll_back(&self) -> io::Result<FileLoss> {
        let now = self.file.metadata()?.len();
        let mut restored = 0;
        for (offset, bytes) in self.before.iter().rev() {
            self.file.write_all_at(bytes, *offset)?;
            restored += bytes.len() as u64;
        }
        self.file.set_len(self.synced_len)?;
        Ok(FileLoss {
            path: self.path.clone(),
            synced_len: self.synced_len,
            dropped_bytes: now.saturating_sub(self.synced_len),
            restored_bytes: restored,
        })
    }
}

/// Reads up to `buf.len()` bytes at `offset`, fewer only at the end of the file.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests;
