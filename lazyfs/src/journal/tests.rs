//! The journal on a plain folder, driven the way the file system drives it (journal first,
//! then the operation), with no FUSE involved.

use super::*;
use std::os::unix::fs::MetadataExt as _;

struct Disk {
    _dir: tempfile::TempDir,
    root: PathBuf,
    journal: Journal,
}

impl Disk {
    fn new() -> Disk {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("disk");
        std::fs::create_dir(&root).unwrap();
        let journal = Journal::new(&root, &dir.path().join("trash")).unwrap();
        Disk {
            _dir: dir,
            root,
            journal,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn create(&mut self, rel: &str) -> File {
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(self.path(rel))
            .unwrap();
        self.journal.created(Path::new(rel));
        file
    }

    fn write(&mut self, file: &File, rel: &str, offset: u64, bytes: &[u8]) {
        let key = file.metadata().unwrap().ino();
        self.journal
            .before_write(key, file, Path::new(rel), offset, bytes.len() as u64)
            .unwrap();
        file.write_all_at(bytes, offset).unwrap();
    }

    /// fsync of a file: its data, and (the journal commit) every entry operation so far.
    fn fsync(&mut self, file: &File) {
        self.journal.file_synced(file.metadata().unwrap().ino());
        self.journal.commit_names();
    }

    fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(rel)).ok()
    }
}

#[test]
fn appends_after_the_last_fsync_are_dropped() {
    let mut d = Disk::new();
    let aof = d.create("a.aof");
    d.write(&aof, "a.aof", 0, b"SET k 1\n");
    d.fsync(&aof);
    d.write(&aof, "a.aof", 8, b"SET k 2\n");
    d.write(&aof, "a.aof", 16, b"SET k 3\n");
    let (loss, _) = d.journal.lose_unsynced();
    assert_eq!(d.read("a.aof").unwrap(), b"SET k 1\n");
    assert_eq!(loss.files.len(), 1);
    assert_eq!(loss.files[0].dropped_bytes, 16);
    assert_eq!(loss.files[0].synced_len, 8);
    assert!(d.journal.is_clean());
}

#[test]
fn overwritten_and_truncated_durable_bytes_come_back() {
    let mut d = Disk::new();
    let f = d.create("f");
    d.write(&f, "f", 0, b"0123456789");
    d.fsync(&f);
    d.write(&f, "f", 2, b"ab");
    d.write(&f, "f", 3, b"XY");
    let key = f.metadata().unwrap().ino();
    d.journal
        .before_truncate(key, &f, Path::new("f"), 4)
        .unwrap();
    f.set_len(4).unwrap();
    let (loss, _) = d.journal.lose_unsynced();
    assert_eq!(d.read("f").unwrap(), b"0123456789");
    assert_eq!(loss.files[0].dropped_bytes, 0);
    assert_eq!(loss.files[0].restored_bytes, 2 + 2 + 6);
}

#[test]
fn a_file_never_committed_disappears_with_its_data() {
    let mut d = Disk::new();
    std::fs::create_dir(d.path("dir")).unwrap();
    d.journal.created(Path::new("dir"));
    let f = d.create("dir/x");
    d.write(&f, "dir/x", 0, b"data");
    let (loss, moves) = d.journal.lose_unsynced();
    assert!(!d.path("dir").exists());
    assert_eq!(loss.entries, vec!["created dir/x", "created dir"]);
    assert_eq!(moves.len(), 2);
}

/// Redis's rdbSave and AOF manifest: write a temp file, fsync it, rename it over the old one,
/// fsync the folder. Before that last fsync the old file is what the disk holds; after it, the
/// new one, and a loss changes nothing.
#[test]
fn rename_over_is_atomic_and_durable_at_the_next_fsync() {
    let mut d = Disk::new();
    let old = d.create("dump.rdb");
    d.write(&old, "dump.rdb", 0, b"old");
    d.fsync(&old);
    let tmp = d.create("temp-1.rdb");
    d.write(&tmp, "temp-1.rdb", 0, b"new!");
    d.fsync(&tmp);
    d.journal.trash(Path::new("dump.rdb")).unwrap();
    std::fs::rename(d.path("temp-1.rdb"), d.path("dump.rdb")).unwrap();
    d.journal
        .renamed(Path::new("temp-1.rdb"), Path::new("dump.rdb"));
    let (loss, _) = d.journal.lose_unsynced();
    assert_eq!(d.read("dump.rdb").unwrap(), b"old", "{loss:?}");
    assert_eq!(d.read("temp-1.rdb").unwrap(), b"new!");

    // Again, now with the folder's fsync (the commit) after the rename.
    d.journal.trash(Path::new("dump.rdb")).unwrap();
    std::fs::rename(d.path("temp-1.rdb"), d.path("dump.rdb")).unwrap();
    d.journal
        .renamed(Path::new("temp-1.rdb"), Path::new("dump.rdb"));
    d.journal.commit_names();
    let (loss, _) = d.journal.lose_unsynced();
    assert!(loss.is_empty(), "{loss:?}");
    assert_eq!(d.read("dump.rdb").unwrap(), b"new!");
    assert!(d.read("temp-1.rdb").is_none());
}

/// Unsynced data of a file renamed since is found through its descriptor, not its old name.
#[test]
fn data_follows_the_file_across_a_committed_rename() {
    let mut d = Disk::new();
    let f = d.create("tmp");
    d.write(&f, "tmp", 0, b"durable");
    d.fsync(&f);
    d.write(&f, "tmp", 7, b" lost");
    std::fs::rename(d.path("tmp"), d.path("final")).unwrap();
    d.journal.renamed(Path::new("tmp"), Path::new("final"));
    d.journal.commit_names(); // a directory fsync: the name is durable, the data is not
    d.journal.lose_unsynced();
    assert_eq!(d.read("final").unwrap(), b"durable");
}

#[test]
fn unlinked_files_come_back_until_the_commit_deletes_them() {
    let mut d = Disk::new();
    let f = d.create("x");
    d.write(&f, "x", 0, b"keep");
    d.fsync(&f);
    d.journal.trash(Path::new("x")).unwrap();
    assert!(d.read("x").is_none());
    d.journal.lose_unsynced();
    assert_eq!(d.read("x").unwrap(), b"keep");
    d.journal.trash(Path::new("x")).unwrap();
    d.journal.commit_names();
    d.journal.lose_unsynced();
    assert!(d.read("x").is_none());
    let trash = d.root.parent().unwrap().join("trash");
    assert_eq!(std::fs::read_dir(trash).unwrap().count(), 0);
}

#[test]
fn removed_folders_are_made_again() {
    let mut d = Disk::new();
    std::fs::create_dir(d.path("empty")).unwrap();
    std::fs::remove_dir(d.path("empty")).unwrap();
    d.journal.removed_dir(Path::new("empty"), 0o700);
    let (loss, _) = d.journal.lose_unsynced();
    assert!(d.path("empty").is_dir());
    assert_eq!(loss.entries, vec!["removed folder empty"]);
}
