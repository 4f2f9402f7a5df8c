//! Open files: every write and truncation is journaled (the before-image of durable bytes it
//! touches, the durable size) before it reaches the backing file; an fsync makes the file's
//! data durable and commits every directory entry operation so far.

use super::{attr, Handle, State};
use fuser::{Errno, FileAttr, OpenAccMode, OpenFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

impl State {
    /// Opens the backing file: readable and writable whenever the caller may write (the
    /// journal reads before-images through it), read-only otherwise. `O_APPEND` is the
    /// kernel's business (it sends every write with its offset), `O_TRUNC` arrives as a
    /// truncation of its own.
    pub(super) fn open(&mut self, ino: u64, flags: OpenFlags) -> Result<u64, Errno> {
        let rel = self.path_of(ino)?;
        let writes = flags.acc_mode() != OpenAccMode::O_RDONLY;
        let file = File::options()
            .read(true)
            .write(writes)
            .open(self.journal.abs(&rel))?;
        Ok(self.add_handle(file, flags.0))
    }

    /// Creates (or, without `O_EXCL`, opens) a regular file and opens it.
    pub(super) fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64), Errno> {
        let rel = self.child(parent, name)?;
        let abs = self.journal.abs(&rel);
        let existed = abs.symlink_metadata().is_ok();
        if existed && flags & libc::O_EXCL != 0 {
            return Err(Errno::EEXIST);
        }
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .mode(mode & !umask & 0o7777)
            .open(&abs)?;
        if !existed {
            self.journal.created(&rel);
        }
        let fh = self.add_handle(file, flags);
        if existed && flags & libc::O_TRUNC != 0 {
            self.truncate(fh, &rel, 0)?;
        }
        let attr = self.remember(&rel)?;
        Ok((attr, fh))
    }

    fn add_handle(&mut self, file: File, flags: i32) -> u64 {
        let fh = self.next_handle;
        self.next_handle += 1;
        let backing = file.metadata().map(|m| m.ino()).unwrap_or(0);
        let sync_writes = flags & (libc::O_SYNC | libc::O_DSYNC) != 0;
        self.handles.insert(
            fh,
            Handle {
                file,
                backing,
                sync_writes,
            },
        );
        fh
    }

    fn handle(&self, fh: u64) -> Result<&Handle, Errno> {
        self.handles.get(&fh).ok_or(Errno::EBADF)
    }

    pub(super) fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let file = &self.handle(fh)?.file;
        let mut buf = vec![0; size as usize];
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64)? {
                0 => break,
                n => done += n,
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// Journals, then writes; a write to a file opened `O_SYNC`/`O_DSYNC` is durable at once.
    pub(super) fn write(
        &mut self,
        ino: u64,
        fh: u64,
        offset: u64,
        data: &[u8],
    ) -> Result<u32, Errno> {
        let rel = self.path_of(ino).unwrap_or_default();
        let handle = self.handles.get(&fh).ok_or(Errno::EBADF)?;
        self.journal.before_write(
            handle.backing,
            &handle.file,
            &rel,
            offset,
            data.len() as u64,
        )?;
        handle.file.write_all_at(data, offset)?;
        if handle.sync_writes {
            let key = handle.backing;
            self.synced(key);
        }
        Ok(data.len() as u32)
    }

    /// Changes the mode and/or the size (journaled as a truncation); times and owners are
    /// accepted and left alone.
    pub(super) fn setattr(
        &mut self,
        ino: u64,
        fh: Option<u64>,
        mode: Option<u32>,
        size: Option<u64>,
    ) -> Result<FileAttr, Errno> {
        let rel = self.path_of(ino);
        let abs = rel.clone().map(|r| self.journal.abs(&r));
        if let Some(mode) = mode {
            let perms = std::fs::Permissions::from_mode(mode & 0o7777);
            std::fs::set_permissions(abs.clone()?, perms)?;
        }
        if let Some(len) = size {
            let given = fh.filter(|fh| self.handles.contains_key(fh));
            let fh = match given {
                Some(fh) => fh,
                None => {
                    let file = File::options().read(true).write(true).open(abs.clone()?)?;
                    self.add_handle(file, 0)
                }
            };
            let truncated = self.truncate(fh, rel.as_deref().unwrap_or(Path::new("")), len);
            if given.is_none() {
                self.handles.remove(&fh);
            }
            truncated?;
        }
        let meta = match fh.and_then(|fh| self.handles.get(&fh)) {
            Some(h) => h.file.metadata()?,
            None => std::fs::symlink_metadata(abs?)?,
        };
        Ok(attr::of(ino, &meta))
    }

    fn truncate(&mut self, fh: u64, rel: &Path, len: u64) -> Result<(), Errno> {
        let handle = self.handles.get(&fh).ok_or(Errno::EBADF)?;
        self.journal
            .before_truncate(handle.backing, &handle.file, rel, len)?;
        handle.file.set_len(len)?;
        Ok(())
    }

    /// An fsync of the file with backing inode `key` returned: its data is durable, and so
    /// is every directory entry operation so far (the journal commit a real fsync forces).
    pub(super) fn synced(&mut self, key: u64) {
        self.journal.file_synced(key);
        self.journal.commit_names();
    }
}
