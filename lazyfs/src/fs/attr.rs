//! A backing file's metadata as the kernel wants it, under its FUSE inode number.

use fuser::{FileAttr, FileType, INodeNo};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the kernel may trust an answer: not at all. A power loss changes the backing
/// folder behind the kernel's back, so every path walk asks again (the layer is for tests, not
/// for speed).
pub const TTL: Duration = Duration::ZERO;

/// The attributes of `meta` as FUSE inode `ino`.
pub fn of(ino: u64, meta: &Metadata) -> FileAttr {
    let time = |secs: i64, nanos: i64| {
        let since = Duration::new(secs.unsigned_abs(), nanos.clamp(0, 999_999_999) as u32);
        match secs >= 0 {
            true => UNIX_EPOCH + since,
            false => UNIX_EPOCH.checked_sub(since).unwrap_or(UNIX_EPOCH),
        }
    };
    FileAttr {
        ino: INodeNo(ino),
        size: meta.size(),
        blocks: meta.blocks(),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: SystemTime::UNIX_EPOCH,
        kind: kind(meta),
        perm: (meta.mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: meta.blksize() as u32,
        flags: 0,
    }
}

/// The kind of file `meta` describes.
pub fn kind(meta: &Metadata) -> FileType {
    FileType::from_std(meta.file_type()).unwrap_or(FileType::RegularFile)
}
