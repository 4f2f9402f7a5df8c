//! One `redis-server` (or `redis-sentinel`) process on this machine that the run started:
//! spawn, signal, reap. The local and netns backends both run their servers this way.
//!
//! Each process leads a process group of its own, so a Ctrl-C at the terminal reaches redline
//! (which heals and tears down in order) and not the servers directly, and so every signal can
//! go to the group: a `--server-bin` wrapper script that runs the server without `exec` is
//! killed, paused and resumed together with its server, and leaves no orphan. Its stdout and
//! stderr go to `stdout.log` in its folder (a server that refuses its config says why there, as
//! it has no log file yet); it runs with umask 077, so whatever it writes (configs it rewrites,
//! data, logs) is its owner's only.

use super::transport::{last_lines, Server, ServerOutput, Signal};
use anyhow::{bail, Context, Result};
use std::os::unix::fs::OpenOptionsExt as _;
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

/// The file in a server's folder that gets its stdout and stderr.
pub const OUTPUT_FILE: &str = "stdout.log";

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

    /// Spawns the process: leader of its own process group, cwd = its folder, stdout and stderr
    /// appended to `stdout.log` there, umask 077.
    pub fn start(&mut self) -> Result<u32> {
        if self.state != ProcessState::Dead {
            bail!("{} is already running", self.name);
        }
        let output_path = self.dir.join(OUTPUT_FILE);
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&output_path)
            .with_context(|| format!("opening {}", output_path.display()))?;
        let mut command = Command::new(&self.binary);
        command
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .process_group(0);
        // SAFETY: umask is async-signal-safe and touches only the child's own state.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0o077);
                Ok(())
            });
        }
        let child = command
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

    /// The state; a leader that exited by itself is reaped here, and whatever it left of its
    /// group is killed (the member is dead; a server its wrapper left behind must not run on).
    pub fn state(&mut self) -> ProcessState {
        if let Some(child) = self.child.as_mut() {
            if exited(child.id()) {
                signal_group(child.id(), libc::SIGKILL);
                let _ = child.wait();
                self.child = None;
                self.state = ProcessState::Dead;
            }
        }
        self.state
    }

    /// SIGKILL to the process group, then reap. A no-op on a dead process.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            // A paused process dies from SIGKILL as well; no SIGCONT needed.
            signal_group(child.id(), libc::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
        }
        self.state = ProcessState::Dead;
        Ok(())
    }

    /// SIGSTOP to the process group: the server keeps its sockets but answers nothing.
    pub fn pause(&mut self) -> Result<()> {
        self.signal(libc::SIGSTOP)?;
        self.state = ProcessState::Paused;
        Ok(())
    }

    /// SIGCONT to the process group, after a pause.
    pub fn resume(&mut self) -> Result<()> {
        self.signal(libc::SIGCONT)?;
        self.state = ProcessState::Running;
        Ok(())
    }

    /// Asks the process group to exit (SIGTERM), waits up to `grace`, then SIGKILLs it.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal_group(child.id(), libc::SIGCONT);
        signal_group(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && !exited(child.id()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whether the leader went by itself or not, what it forked must not outlive it.
        signal_group(child.id(), libc::SIGKILL);
        let _ = child.wait();
        self.state = ProcessState::Dead;
    }

    fn signal(&mut self, signal: libc::c_int) -> Result<()> {
        let Some(child) = self.child.as_ref() else {
            bail!("{} is not running", self.name);
        };
        if !signal_group(child.id(), signal) {
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

/// Sends `signal` to the process group led by `pid` (which redline created with the process).
/// Returns whether it was delivered.
fn signal_group(pid: u32, signal: libc::c_int) -> bool {
    // SAFETY: plain signal delivery to a process group this process created; every caller holds
    // its leader as a child not reaped yet, so the group id cannot have been reused.
    unsafe { libc::kill(-(pid as libc::pid_t), signal) == 0 }
}

/// Whether child `pid` has exited; it is not reaped (its pid, and so its group id, stay taken
/// until `wait`).
fn exited(pid: u32) -> bool {
    // SAFETY: waitid with WNOWAIT only reads the child's status into `info`, which is a plain
    // zeroed C struct.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) == 0 && info.si_pid() != 0
    }
}

/// The process group of `pid`, if it exists.
pub fn process_group(pid: u32) -> Option<u32> {
    // SAFETY: getpgid only reads the kernel's process table.
    let group = unsafe { libc::getpgid(pid as libc::pid_t) };
    (group > 0).then_some(group as u32)
}

impl Drop for ServerProcess {
    /// The last line of defence: whatever path dropped us, the process does not outlive it.
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

impl Server for ServerProcess {
    async fn start(&mut self) -> Result<u32> {
        ServerProcess::start(self)
    }

    async fn signal(&mut self, signal: Signal) -> Result<()> {
        match signal {
            Signal::Kill => self.kill(),
            Signal::Stop => self.pause(),
            Signal::Cont => self.resume(),
        }
    }

    fn pid(&self) -> Option<u32> {
        ServerProcess::pid(self)
    }

    fn state(&mut self) -> ProcessState {
        ServerProcess::state(self)
    }

    async fn refresh(&mut self) -> Result<ProcessState> {
        Ok(ServerProcess::state(self))
    }

    async fn in_group(&self, pid: u32) -> bool {
        self.pid().is_some() && process_group(pid) == self.pid()
    }

    async fn output_tail(&self, log: &str) -> ServerOutput {
        let read = |file: &str| std::fs::read_to_string(self.dir.join(file)).unwrap_or_default();
        ServerOutput {
            log: last_lines(&read(log), 5),
            stderr: last_lines(&read(OUTPUT_FILE), 10),
            log_location: self.location(log),
        }
    }

    fn location(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }
}
