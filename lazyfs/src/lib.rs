//! redline-lazyfs: a FUSE layer over a folder that keeps every write not yet made durable
//! volatile, and drops it on demand: a power loss of the page cache, as Jepsen's LazyFS
//! `lose-unfsynced-writes` does, for a process whose data dir is mounted on it.
//!
//! # The map
//!
//! - [`mount`]: [`LazyDisk`], one mounted layer (in this process, on fuser's background
//!   session), [`LazyDisk::lose_unsynced`] (the fault), unmounting on every path, and the
//!   checks that say whether this machine can mount at all.
//! - [`journal`]: the undo journal, i.e. what a power loss takes back; the semantics below are
//!   decided there.
//! - [`loss`]: what a power loss dropped, as a report.
//! - `fs`: the `fuser::Filesystem` that passes every operation through to the backing folder
//!   and tells the journal first.
//! - `inodes`: FUSE inode numbers and the backing paths they stand for.
//!
//! # What "durable" means here
//!
//! The backing folder plays the disk and the page cache at once: every operation reaches it at
//! once (so reads, `stat` and directory listings are plain pass-through and see the page
//! cache, as on Linux), and the journal remembers how to take back whatever has not been made
//! durable yet. A power loss SIGKILLs the process first (the caller does that), then takes it
//! all back; the node restarts on what is left, which is exactly what a disk holds after the
//! machine lost power with a page cache full of dirty pages and no writeback in between.
//!
//! - **File data** (writes and truncations) is durable once `fsync` or `fdatasync` of *that
//!   file* returns, or at once for a file opened `O_SYNC`/`O_DSYNC`. Until then a write can be
//!   lost whole: appended bytes go, overwritten bytes come back, a truncation is undone. This
//!   is the worst case a real kernel allows (it may also write back dirty pages by itself,
//!   every few seconds, which we never do), and what LazyFS models. `fdatasync` counts as
//!   `fsync`: the size of a file is part of what `fdatasync` must persist to make its data
//!   readable.
//! - **Directory entries** (create, mkdir, unlink, rmdir, rename) are made durable by the next
//!   `fsync` of *anything* on the layer, a file or a directory: the behaviour of a file system
//!   with an ordered metadata journal (ext4's default `data=ordered`, XFS), where an fsync
//!   commits the one running transaction that holds every metadata change so far, in order.
//!   A rename is atomic: after a loss the old name or the new one exists, never both or
//!   neither; a replaced target comes back whole. Until then an unlinked or replaced file waits
//!   in a trash folder beside the backing folder, and is deleted for good at the commit.
//!   POSIX asks less (only an fsync of the parent directory persists an entry); LazyFS asks
//!   less still (its namespace operations go straight to its root, durable at once). The
//!   journal's model is the one Redis is written against: it fsyncs a file, renames it, then
//!   fsyncs the directory (`rdbSave`, the AOF manifest), and never fsyncs its data dir after
//!   creating `appendonlydir`, which only a journaling file system makes durable.
//! - Attributes other than size (mode, owner, times) go through and are never taken back;
//!   Redis does not depend on them. Hard links, symlinks and special files are refused.
//!
//! A slow disk is an option of the layer ([`Options::fsync_delay`]): every `fsync`/`fdatasync`
//! (of a file or a directory) answers that much later, on a thread of its own, so the rest of
//! the file system stays fast; the kernel's FUSE driver holds the file's inode lock while an
//! fsync is outstanding, so a `write` to that same file waits, as it would behind a slow
//! journal commit. An fsync that a power loss overtakes persists nothing.

pub mod journal;
pub mod loss;
pub mod mount;

mod fs;
mod inodes;

pub use loss::{FileLoss, Loss};
pub use mount::{find_mounts, unavailable, unmount_stale, Error, LazyDisk, Options, FS_TYPE};
