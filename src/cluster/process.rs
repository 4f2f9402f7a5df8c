//! One `redis-server` (or `redis-sentinel`) process that the run started: spawn, signal, reap.
//!
//! Processes are started in their own process group, so a Ctrl-C at the terminal reaches
//! redline (which heals and tears down in order) and not the servers directly.

use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a node is running, stopped by SIGSTOP, or dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    Running,
    Paused,
    Dead,
}

/// A server process and how to start it again on the same data dir.
#[derive(Debug)]
pub struct ServerProcess {
    /// `n1`, `s1`, ...
    pub name: String,
    binary: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
    state: ProcessState,
}

impl ServerProcess {
    /// Describes a process; nothing runs until [`ServerProcess::start`].
    pub fn new(name: &str, binary: &Path, args: Vec<String>, dir: &Path) -> ServerProcess {
        ServerProcess {
            name: name.to_string(),
            binary: binary.to_path_buf(),
            args,
            dir: dir.to_path_buf(),
            child: None,
            state: ProcessState::Dead,
        }
    }

    /// Spawns the process (in its own process group, cwd = its data dir).
    pub fn start(&mut self) -> Result<u32> {
        if self.state != ProcessState::Dead {
            bail!("{} is already running", self.name);
        }
        let child = Command::new(&self.binary)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.binary.display()))?;
        let pid = child.id();
        self.child = Some(child);
        self.state = ProcessState::Running;
        Ok(pid)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn state(&mut self) -> ProcessState {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                self.state = ProcessState::Dead;
            }
        }
        self.state
    }

    /// SIGKILL, then reap. A no-op on a dead process.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            // A paused process dies from SIGKILL as well; no SIGCONT needed.
            let _ = child.kill();
            let _ = child.wait();
        }
        self.state = ProcessState::Dead;
        Ok(())
    }

    /// SIGSTOP: the process keeps its sockets but answers nothing.
    pub fn pause(&mut self) -> Result<()> {
        self.signal(libc::SIGSTOP)?;
        self.state = ProcessState::Paused;
        Ok(())
    }

    /// SIGCONT after a pause.
    pub fn resume(&mut self) -> Result<()> {
        self.signal(libc::SIGCONT)?;
        self.state = ProcessState::Running;
        Ok(())
    }

    /// Asks the process to exit (SIGTERM), waits up to `grace`, then SIGKILLs it.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain signal delivery to a child we spawned and have not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGCONT);
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                self.state = ProcessState::Dead;
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        self.state = ProcessState::Dead;
    }

    fn signal(&mut self, signal: libc::c_int) -> Result<()> {
        let Some(child) = self.child.as_ref() else {
            bail!("{} is not running", self.name);
        };
        // SAFETY: plain signal delivery to a child we spawned and have not reaped yet.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        if rc != 0 {
            bail!(
                "signalling {} (pid {}): {}",
                self.name,
                child.id(),
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    /// The last line of defence: whatever path dropped us, the process does not outlive it.
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
