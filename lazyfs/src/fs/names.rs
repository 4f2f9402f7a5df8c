//! Names: lookups, attributes, listings, and the directory entry operations, each told to the
//! journal before it reaches the backing folder (see `journal.rs` for how each is undone).

use super::{attr, State};
use fuser::{Errno, FileAttr, FileType, RenameFlags};
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// FUSE numbers for listed entries the kernel has not looked up yet: far from ours.
const UNKNOWN_INO_BASE: u64 = 1 << 62;

impl State {
    /// The path of `ino`, or ENOENT once it has none.
    pub(super) fn path_of(&self, ino: u64) -> Result<PathBuf, Errno> {
        self.inodes
            .path(ino)
            .map(Path::to_path_buf)
            .ok_or(Errno::ENOENT)
    }

    /// The path of `name` in folder `parent`.
    pub(super) fn child(&self, parent: u64, name: &OsStr) -> Result<PathBuf, Errno> {
        if name.is_empty() || name == "." || name == ".." || name.as_encoded_bytes().contains(&b'/')
        {
            return Err(Errno::EINVAL);
        }
        Ok(self.path_of(parent)?.join(name))
    }

    /// Looks `rel` up in the backing folder, counting a kernel lookup.
    pub(super) fn remember(&mut self, rel: &Path) -> Result<FileAttr, Errno> {
        let meta = std::fs::symlink_metadata(self.journal.abs(rel))?;
        let ino = self.inodes.looked_up(rel, meta.ino());
        Ok(attr::of(ino, &meta))
    }

    pub(super) fn lookup(&mut self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let rel = self.child(parent, name)?;
        self.remember(&rel)
    }

    pub(super) fn getattr(&self, ino: u64, fh: Option<u64>) -> Result<FileAttr, Errno> {
        let meta = match fh.and_then(|fh| self.handles.get(&fh)) {
            Some(handle) => handle.file.metadata()?,
            None => std::fs::symlink_metadata(self.journal.abs(&self.path_of(ino)?))?,
        };
        Ok(attr::of(ino, &meta))
    }

    /// The entries of folder `ino`, with `.` and `..`, in the backing folder's order.
    pub(super) fn list(&self, ino: u64) -> Result<Vec<(u64, FileType, OsString)>, Errno> {
        let rel = self.path_of(ino)?;
        let mut entries = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (ino, FileType::Directory, OsString::from("..")),
        ];
        for e in std::fs::read_dir(self.journal.abs(&rel))? {
            let e = e?;
            let meta = e.metadata()?;
            let number = self
                .inodes
                .of_backing(meta.ino())
                .unwrap_or(UNKNOWN_INO_BASE | meta.ino());
            entries.push((number, attr::kind(&meta), e.file_name()));
        }
        Ok(entries)
    }

    /// A regular file, with no handle (`mknod`); other kinds are refused.
    pub(super) fn mknod(
        &mut self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
    ) -> Result<FileAttr, Errno> {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Errno::EPERM);
        }
        let (attr, fh) = self.create(parent, name, mode, umask, libc::O_EXCL)?;
        self.handles.remove(&fh);
        Ok(attr)
    }

    pub(super) fn mkdir(
        &mut self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
    ) -> Result<FileAttr, Errno> {
        let rel = self.child(parent, name)?;
        std::fs::DirBuilder::new()
            .mode(mode & !umask & 0o7777)
            .create(self.journal.abs(&rel))?;
        self.journal.created(&rel);
        self.remember(&rel)
    }

    /// Unlinks a file into the trash (a power loss before the next commit puts it back).
    pub(super) fn unlink(&mut self, parent: u64, name: &OsStr) -> Result<(), Errno> {
        let rel = self.child(parent, name)?;
        if std::fs::symlink_metadata(self.journal.abs(&rel))?.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.journal.trash(&rel)?;
        self.inodes.moved(&rel, None);
        Ok(())
    }

    pub(super) fn rmdir(&mut self, parent: u64, name: &OsStr) -> Result<(), Errno> {
        let rel = self.child(parent, name)?;
        let abs = self.journal.abs(&rel);
        let mode = std::fs::symlink_metadata(&abs)?.permissions().mode() & 0o7777;
        std::fs::remove_dir(&abs)?;
        self.journal.removed_dir(&rel, mode);
        self.inodes.moved(&rel, None);
        Ok(())
    }

    /// Renames; a replaced target goes to the trash first, so a loss can bring it back whole.
    /// `RENAME_NOREPLACE` is honoured; exchanging two names is refused (nothing we test uses it).
    pub(super) fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
            return Err(Errno::EINVAL);
        }
        let from = self.child(parent, name)?;
        let to = self.child(new_parent, new_name)?;
        let source = std::fs::symlink_metadata(self.journal.abs(&from))?;
        if from == to {
            return Ok(());
        }
        if to.starts_with(&from) {
            return Err(Errno::EINVAL);
        }
        match std::fs::symlink_metadata(self.journal.abs(&to)) {
            Ok(_) if flags.contains(RenameFlags::RENAME_NOREPLACE) => return Err(Errno::EEXIST),
            Ok(target) => {
                check_replaceable(source.is_dir(), &target, &self.journal.abs(&to))?;
                self.journal.trash(&to)?;
                self.inodes.moved(&to, None);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        std::fs::rename(self.journal.abs(&from), self.journal.abs(&to))?;
        self.journal.renamed(&from, &to);
        self.inodes.moved(&from, Some(&to));
        Ok(())
    }
}

/// What rename(2) checks before it replaces `target` (at `abs`) with a file or folder.
fn check_replaceable(
    source_is_dir: bool,
    target: &std::fs::Metadata,
    abs: &Path,
) -> Result<(), Errno> {
    match (source_is_dir, target.is_dir()) {
        (true, false) => Err(Errno::ENOTDIR),
        (false, true) => Err(Errno::EISDIR),
        (true, true) if std::fs::read_dir(abs)?.next().is_some() => Err(Errno::ENOTEMPTY),
        _ => Ok(()),
    }
}
