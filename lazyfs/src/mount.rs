//! Mounting a layer, the power loss, and unmounting on every path.
//!
//! The file system runs in this process, on fuser's background session thread, mounted
//! through `fusermount3` with `auto_unmount`: `fusermount3` stays behind as a helper that
//! unmounts as soon as this process's FUSE descriptor closes, so a harness that dies by
//! SIGKILL nearly always leaves no mount either (its servers, still running, then get
//! ENOTCONN; `redline cleanup` stops them). Not always: the helper first opens the mount to
//! tell a dead one from a live one, and an open still pending when the kernel aborts the
//! connection fails with ECONNABORTED, which `fusermount3` takes for alive and leaves mounted.
//! A normal exit unmounts explicitly ([`LazyDisk::unmount`], also on drop), after the servers
//! using the mount are stopped; a mount still busy is detached lazily rather than left.
//! [`unmount_stale`] is the last resort for a mount its helper left or whose helper died too:
//! it only ever touches mounts of this file system's type ([`FS_TYPE`]).

use crate::fs::{lock, LazyFs, State};
use crate::journal::Journal;
use crate::loss::Loss;
use fuser::{BackgroundSession, Config, MountOption, Session, SessionACL};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The file system's name, as `/proc/mounts` shows it in the source column.
pub const FS_NAME: &str = "redline-lazyfs";
/// The file system's type in `/proc/mounts`.
pub const FS_TYPE: &str = "fuse.redline-lazyfs";

/// How the layer behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// A slow disk: every fsync and fdatasync answers this much later (0: at once).
    pub fsync_delay: Duration,
}

/// Why a layer could not be mounted or unmounted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("this machine cannot mount a lazy disk: {0}")]
    Unavailable(&'static str),
    #[error("preparing {path}: {source}")]
    Prepare { path: PathBuf, source: io::Error },
    #[error("mounting the lazy disk on {path} (with fusermount3): {source}")]
    Mount { path: PathBuf, source: io::Error },
    #[error("unmounting the lazy disk on {path}: {source}; try: fusermount3 -u -z {path}")]
    Unmount { path: PathBuf, source: io::Error },
}

/// One mounted layer: a folder whose unsynced writes a power loss can drop.
pub struct LazyDisk {
    mountpoint: PathBuf,
    backing: PathBuf,
    state: Arc<Mutex<State>>,
    session: Option<BackgroundSession>,
}

impl LazyDisk {
    /// Mounts a layer at `mountpoint` (an empty folder, created when missing) over `backing`
    /// (the "disk", created when missing; whatever it holds already counts as durable).
    /// Unlinked files wait for the journal commit in `backing` + `.trash`, beside it.
    pub fn mount(mountpoint: &Path, backing: &Path, options: Options) -> Result<LazyDisk, Error> {
        if let Some(why) = unavailable() {
            return Err(Error::Unavailable(why));
        }
        let prepare = |path: &Path| {
            std::fs::create_dir_all(path)
                .and_then(|()| path.canonicalize())
                .map_err(|source| Error::Prepare {
                    path: path.to_path_buf(),
                    source,
                })
        };
        let mountpoint = prepare(mountpoint)?;
        let backing = prepare(backing)?;
        let mut trash = backing.clone().into_os_string();
        trash.push(".trash");
        let trash = PathBuf::from(trash);
        let journal = Journal::new(&backing, &trash).map_err(|source| Error::Prepare {
            path: trash.clone(),
            source,
        })?;
        let root = std::fs::metadata(&backing).map_err(|source| Error::Prepare {
            path: backing.clone(),
            source,
        })?;
        let state = Arc::new(Mutex::new(State::new(journal, root.ino())));
        let fs = LazyFs {
            state: state.clone(),
            fsync_delay: options.fsync_delay,
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName(FS_NAME.into()),
            MountOption::Subtype(FS_NAME.into()),
            MountOption::AutoUnmount,
            MountOption::NoSuid,
            MountOption::NoDev,
        ];
        // auto_unmount needs allow_root or allow_other; only root and the owner get in.
        config.acl = SessionACL::RootAndOwner;
        config.n_threads = Some(1);
        let mount_error = |source| Error::Mount {
            path: mountpoint.clone(),
            source,
        };
        let session = Session::new(fs, &mountpoint, &config)
            .and_then(Session::spawn)
            .map_err(mount_error)?;
        Ok(LazyDisk {
            mountpoint,
            backing,
            state,
            session: Some(session),
        })
    }

    /// The power loss: every write not fsynced and every entry operation not committed is
    /// taken back; fsyncs still in flight fail. Kill the processes using the layer first: a
    /// write that lands after this call is unsynced again, for the next loss.
    pub fn lose_unsynced(&self) -> Loss {
        lock(&self.state).lose_unsynced()
    }

    /// Whether a power loss now would drop nothing.
    pub fn is_clean(&self) -> bool {
        lock(&self.state).journal.is_clean()
    }

    /// Where the layer is mounted (what the server uses).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// The folder underneath (what survives).
    pub fn backing(&self) -> &Path {
        &self.backing
    }

    /// Unmounts (lazily when something still holds it open) and removes the trash: a clean
    /// shutdown, nothing is dropped. Idempotent; also done on drop.
    pub fn unmount(&mut self) -> Result<(), Error> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let unmounted = unmount_path(&self.mountpoint, false);
        // The session thread ends once the kernel closes the connection; do not wait on a
        // lazily detached mount that something still holds.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !session.guard.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if session.guard.is_finished() {
            if let Err(e) = session.join() {
                tracing::debug!("lazyfs session on {}: {e}", self.mountpoint.display());
            }
        } else {
            drop(session);
        }
        lock(&self.state).journal.remove_trash();
        reap_helpers(Duration::from_millis(300));
        unmounted.map_err(|source| Error::Unmount {
            path: self.mountpoint.clone(),
            source,
        })
    }
}

impl Drop for LazyDisk {
    fn drop(&mut self) {
        if let Err(e) = self.unmount() {
            tracing::warn!("{e}");
        }
    }
}

/// Reaps the `fusermount3` helpers that have exited (fuser starts one per mount for
/// `auto_unmount` and never waits for it), for up to `patience`, so that a long suite does not
/// collect zombies. Only exited children named `fusermount3` are waited for: the servers are
/// children of this process too, and their owners reap them.
fn reap_helpers(patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let zombies = exited_helpers();
        for pid in &zombies {
            // SAFETY: waitpid on a child of this process that has exited; WNOHANG never blocks.
            unsafe {
                libc::waitpid(*pid, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
        if !zombies.is_empty() || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The children of this process (any thread's) that are exited `fusermount3` helpers.
fn exited_helpers() -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let children = tasks.flatten().flat_map(|task| {
        std::fs::read_to_string(task.path().join("children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse::<libc::pid_t>().ok())
            .collect::<Vec<_>>()
    });
    children
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // "pid (comm) S ...": the state follows the closing parenthesis.
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            stat.contains("(fusermount3)") && state.is_some_and(|s| s.starts_with('Z'))
        })
        .collect()
}

/// Why this machine cannot mount a layer, or `None` when it can: it needs `/dev/fuse` (open for
/// reading and writing) and `fusermount3` on the PATH. Asked once per process.
pub fn unavailable() -> Option<&'static str> {
    static ANSWER: OnceLock<Option<&'static str>> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        match std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/fuse")
        {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Some(
                    "/dev/fuse is missing (load the fuse module; in a container, pass the \
                     device in, e.g. --device /dev/fuse)",
                )
            }
            Err(_) => return Some("/dev/fuse cannot be opened for reading and writing"),
        }
        if find_on_path("fusermount3").is_none() {
            return Some("fusermount3 is missing (apt-get install fuse3)");
        }
        None
    })
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Mount points of this file system's type, from `/proc/self/mounts`.
pub fn find_mounts() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let _source = fields.next()?;
            let target = fields.next()?;
            (fields.next()? == FS_TYPE).then(|| PathBuf::from(unescape(target)))
        })
        .collect()
}

/// `/proc/mounts` writes space, tab, newline and backslash as octal escapes.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Unmounts a layer whose process is gone (`redline cleanup`), lazily; only when `mountpoint`
/// is a mount of this file system's type. Returns whether there was one.
pub fn unmount_stale(mountpoint: &Path) -> Result<bool, Error> {
    if !find_mounts().iter().any(|m| m == mountpoint) {
        return Ok(false);
    }
    unmount_path(mountpoint, true)
        .map(|()| true)
        .map_err(|source| Error::Unmount {
            path: mountpoint.to_path_buf(),
            source,
        })
}

/// Unmounts `path` if it is one of our mounts: `umount2` (lazily when busy, or when `lazy`),
/// or through `fusermount3 -u` where this user may not call `umount2`.
fn unmount_path(path: &Path, lazy: bool) -> io::Result<()> {
    if !find_mounts().iter().any(|m| m == path) {
        return Ok(());
    }
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let umount2 = |flags: libc::c_int| {
        // SAFETY: umount2 reads a NUL-terminated path that outlives the call.
        match unsafe { libc::umount2(c_path.as_ptr(), flags) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    };
    let first = umount2(if lazy { libc::MNT_DETACH } else { 0 });
    match first {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => umount2(libc::MNT_DETACH),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => fusermount_unmount(path),
        Err(e) => Err(e),
    }
}

fn fusermount_unmount(path: &Path) -> io::Result<()> {
    let out = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(path)
        .output()?;
    match out.status.success() {
        true => Ok(()),
        false => Err(io::Error::other(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
    }
}
