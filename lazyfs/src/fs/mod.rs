//! The file system the kernel talks to: every operation is passed through to the backing
//! folder, and the journal is told first what it would take to undo it.
//!
//! - `names.rs`: lookups, attributes, listings and directory entry operations.
//! - `data.rs`: open files: read, write, truncate, fsync.
//! - `attr.rs`: backing metadata as FUSE attributes.
//!
//! All state sits behind one mutex ([`State`]); the dispatcher thread and the harness (which
//! calls [`State::lose_unsynced`]) take turns. Files are opened with `FOPEN_DIRECT_IO`, so the
//! kernel keeps no page cache of its own for them: every read and write reaches us, and the
//! page cache that a power loss empties is the journal's alone.

mod attr;
mod data;
mod names;

use crate::inodes::Inodes;
use crate::journal::Journal;
use crate::loss::Loss;
use fuser::{
    AccessFlags, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// An open file of the layer.
#[derive(Debug)]
struct Handle {
    file: File,
    /// The backing inode, the journal's key for the file.
    backing: u64,
    /// Opened `O_SYNC` or `O_DSYNC`: every write is durable when it returns.
    sync_writes: bool,
}

/// Everything the file system knows, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub journal: Journal,
    inodes: Inodes,
    handles: HashMap<u64, Handle>,
    next_handle: u64,
    /// Counts power losses: an fsync that began before the last one persists nothing.
    epoch: u64,
}

impl State {
    pub fn new(journal: Journal, root_backing: u64) -> State {
        State {
            journal,
            inodes: Inodes::new(root_backing),
            handles: HashMap::new(),
            next_handle: 1,
            epoch: 0,
        }
    }

    /// The power loss: drops every unsynced write and uncommitted entry operation, and fails
    /// the fsyncs still in flight.
    pub fn lose_unsynced(&mut self) -> Loss {
        self.epoch += 1;
        let (loss, moves) = self.journal.lose_unsynced();
        for (from, to) in moves {
            self.inodes.moved(&from, to.as_deref());
        }
        loss
    }
}

/// The `fuser` file system: the shared state, and the slow disk's fsync delay.
pub(crate) struct LazyFs {
    pub state: Arc<Mutex<State>>,
    pub fsync_delay: Duration,
}

/// Locks the state; a thread that panicked with the lock leaves the state as it was.
pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl LazyFs {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Runs `sync` now, or, on a slow disk, after the delay on a thread of its own (so the
    /// dispatcher goes on serving everything else); an fsync that a power loss overtook
    /// persists nothing and fails with EIO, as an fsync on a machine that lost power never
    /// returns.
    fn fsync_after_delay(
        &self,
        reply: ReplyEmpty,
        sync: impl FnOnce(&mut State) -> Result<(), Errno> + Send + 'static,
    ) {
        if self.fsync_delay.is_zero() {
            answer(reply, sync(&mut self.lock()));
            return;
        }
        let state = self.state.clone();
        let epoch = self.lock().epoch;
        let delay = self.fsync_delay;
        let spawned = std::thread::Builder::new()
            .name("lazyfs-fsync".into())
            .spawn(move || {
                std::thread::sleep(delay);
                let mut s = lock(&state);
                match s.epoch == epoch {
                    true => answer(reply, sync(&mut s)),
                    false => reply.error(Errno::EIO),
                }
            });
        if let Err(e) = spawned {
            // The reply went with the closure; fuser answers EIO for a reply dropped unsent.
            tracing::warn!("lazyfs: could not start an fsync thread: {e}");
        }
    }
}

fn answer(reply: ReplyEmpty, result: Result<(), Errno>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

fn entry(reply: ReplyEntry, result: Result<fuser::FileAttr, Errno>) {
    match result {
        Ok(attr) => reply.entry(&attr::TTL, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn attr_reply(reply: ReplyAttr, result: Result<fuser::FileAttr, Errno>) {
    match result {
        Ok(attr) => reply.attr(&attr::TTL, &attr),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for LazyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        entry(reply, self.lock().lookup(parent.0, name));
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.lock().inodes.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        attr_reply(reply, self.lock().getattr(ino.0, fh.map(|h| h.0)));
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = self.lock().setattr(ino.0, fh.map(|h| h.0), mode, size);
        attr_reply(reply, result);
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        entry(reply, self.lock().mknod(parent.0, name, mode, umask));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        entry(reply, self.lock().mkdir(parent.0, name, mode, umask));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        answer(reply, self.lock().unlink(parent.0, name));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        answer(reply, self.lock().rmdir(parent.0, name));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let result = self
            .lock()
            .rename(parent.0, name, newparent.0, newname, flags);
        answer(reply, result);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.lock().open(ino.0, flags) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.lock().create(parent.0, name, mode, umask, flags) {
            Ok((attr, fh)) => reply.created(
                &attr::TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.lock().read(fh.0, offset, size) {
            Ok(bytes) => reply.data(&bytes),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.lock().write(ino.0, fh.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) persists nothing.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let backing = self.lock().handles.get(&fh.0).map(|h| h.backing);
        match backing {
            Some(key) => self.fsync_after_delay(reply, move |s| {
                s.synced(key);
                Ok(())
            }),
            None => reply.error(Errno::EBADF),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.lock().list(ino.0) {
            Ok(entries) => {
                for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(*ino), i as u64 + 1, *kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.fsync_after_delay(reply, |s| {
            s.journal.commit_names();
            Ok(())
        });
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    // No extended attributes: ENOSYS tells the kernel never to ask again.
    fn getxattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, _size: u32, r: ReplyXattr) {
        r.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::ENOSYS);
    }
}
