//! The layer mounted for real (FUSE), driven with ordinary file calls the way Redis makes
//! them: appends and fdatasync, temp file + fsync + rename + directory fsync, unlink. Skipped
//! where this machine cannot mount FUSE.

use redline_lazyfs::{find_mounts, unavailable, LazyDisk, Options};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Fields drop in declaration order: the disk unmounts before its folder is removed. (The
/// other way round, the folder's removal met the live mount and failed silently, leaving an
/// empty `/tmp/.tmpXXXXXX/data` per test behind.)
struct Mounted {
    disk: LazyDisk,
    dir: tempfile::TempDir,
}

impl Mounted {
    fn new(options: Options) -> Option<Mounted> {
        if let Some(why) = unavailable() {
            eprintln!("SKIPPED: {why}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let disk = LazyDisk::mount(&dir.path().join("data"), &dir.path().join("disk"), options)
            .expect("mounts");
        Some(Mounted { disk, dir })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.disk.mountpoint().join(rel)
    }

    fn append(&self, rel: &str, bytes: &[u8]) -> File {
        let mut f = File::options()
            .create(true)
            .append(true)
            .open(self.path(rel))
            .unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(rel)).ok()
    }
}

fn fsync_dir(dir: &Path) {
    File::open(dir).unwrap().sync_all().unwrap();
}

#[test]
fn fdatasynced_appends_survive_and_later_ones_do_not() {
    let Some(m) = Mounted::new(Options::default()) else {
        return;
    };
    let f = m.append("appendonly.aof", b"*1\r\n$4\r\nPING\r\n");
    f.sync_data().unwrap();
    let mut f = f;
    f.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        .unwrap();
    assert!(!m.disk.is_clean());
    drop(f);
    let loss = m.disk.lose_unsynced();
    assert_eq!(m.read("appendonly.aof").unwrap(), b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(loss.files.len(), 1, "{loss:?}");
    assert_eq!(loss.files[0].dropped_bytes, 27);
    assert!(m.disk.is_clean());
    // The file goes on from its durable size: O_APPEND writes land right after it.
    let f = m.append("appendonly.aof", b"+");
    f.sync_all().unwrap();
    assert_eq!(m.read("appendonly.aof").unwrap().len(), 15);
}

#[test]
fn a_renamed_temp_file_is_durable_only_with_the_folders_fsync() {
    let Some(m) = Mounted::new(Options::default()) else {
        return;
    };
    std::fs::create_dir(m.path("appendonlydir")).unwrap();
    let write_manifest = |text: &[u8]| {
        let tmp = m.path("appendonlydir/temp.manifest");
        let mut f = File::create(&tmp).unwrap();
        f.write_all(text).unwrap();
        f.sync_all().unwrap();
        std::fs::rename(&tmp, m.path("appendonlydir/appendonly.aof.manifest")).unwrap();
    };
    write_manifest(b"v1");
    fsync_dir(&m.path("appendonlydir"));
    write_manifest(b"v2");
    m.disk.lose_unsynced();
    assert_eq!(
        m.read("appendonlydir/appendonly.aof.manifest").unwrap(),
        b"v1",
        "the rename of v2 was never committed"
    );
    assert_eq!(
        m.read("appendonlydir/temp.manifest").unwrap(),
        b"v2",
        "the temp file's creation and data were (its own fsync committed them)"
    );
    write_manifest(b"v3");
    fsync_dir(&m.path("appendonlydir"));
    m.disk.lose_unsynced();
    assert_eq!(
        m.read("appendonlydir/appendonly.aof.manifest").unwrap(),
        b"v3"
    );
    let names: Vec<_> = std::fs::read_dir(m.path("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["appendonly.aof.manifest"]);
}

#[test]
fn a_folder_never_committed_is_gone_with_its_files() {
    let Some(m) = Mounted::new(Options::default()) else {
        return;
    };
    std::fs::create_dir(m.path("d")).unwrap();
    m.append("d/f", b"x");
    m.disk.lose_unsynced();
    assert!(!m.path("d").exists());
    assert!(std::fs::read_dir(m.disk.backing())
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn unlinked_files_come_back_after_a_loss() {
    let Some(m) = Mounted::new(Options::default()) else {
        return;
    };
    m.append("dump.rdb", b"REDIS0010").sync_all().unwrap();
    std::fs::remove_file(m.path("dump.rdb")).unwrap();
    assert!(m.read("dump.rdb").is_none());
    m.disk.lose_unsynced();
    assert_eq!(m.read("dump.rdb").unwrap(), b"REDIS0010");
}

/// A slow disk: fsync takes the delay, other operations do not wait for it.
#[test]
fn the_fsync_delay_slows_fsync_only() {
    let delay = Duration::from_millis(600);
    let Some(m) = Mounted::new(Options { fsync_delay: delay }) else {
        return;
    };
    let f = m.append("a", b"1");
    let started = Instant::now();
    let syncing = std::thread::spawn(move || f.sync_data().map(|()| Instant::now()));
    std::thread::sleep(Duration::from_millis(100));
    let write_started = Instant::now();
    m.append("b", b"2");
    assert!(
        write_started.elapsed() < delay / 2,
        "another file was not held up"
    );
    let synced_at = syncing.join().unwrap().unwrap();
    assert!(synced_at - started >= delay);
    assert!(m.disk.is_clean() || m.read("b").is_some());
}

/// A power loss overtakes an fsync in flight: the fsync fails and persists nothing.
#[test]
fn an_fsync_overtaken_by_the_loss_persists_nothing() {
    let Some(m) = Mounted::new(Options {
        fsync_delay: Duration::from_millis(500),
    }) else {
        return;
    };
    let f = m.append("a", b"lost");
    let syncing = std::thread::spawn(move || f.sync_data());
    std::thread::sleep(Duration::from_millis(150));
    m.disk.lose_unsynced();
    assert!(syncing.join().unwrap().is_err(), "the fsync must fail");
    assert!(m.read("a").is_none(), "a file never committed is gone");
}

#[test]
fn unmounting_leaves_no_mount_and_keeps_the_disk() {
    let Some(mut m) = Mounted::new(Options::default()) else {
        return;
    };
    m.append("kept", b"data").sync_all().unwrap();
    let mountpoint = m.disk.mountpoint().to_path_buf();
    assert!(find_mounts().contains(&mountpoint));
    m.disk.unmount().unwrap();
    assert!(!find_mounts().contains(&mountpoint));
    assert_eq!(
        std::fs::read(m.disk.backing().join("kept")).unwrap(),
        b"data"
    );
    assert!(!m.dir.path().join("disk.trash").exists());
    // Dropping after an unmount is a no-op; dropping a mounted disk unmounts it.
    let again = Mounted::new(Options::default()).unwrap();
    let mountpoint = again.disk.mountpoint().to_path_buf();
    drop(again);
    assert!(!find_mounts().contains(&mountpoint));
}
