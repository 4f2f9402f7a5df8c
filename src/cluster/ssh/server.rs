//! A member's server on its SSH host: started detached in its member folder (`setsid`, so it
//! leads a session and a process group of its own), signalled as a group, and recognised by
//! its pid file *and* its working folder (see `scripts.rs`), so a recycled pid never gets a
//! signal meant for a server that is gone.

use super::remote::Remote;
use super::scripts;
use crate::cluster::process::ProcessState;
use crate::cluster::transport::{Server, ServerOutput, Signal};
use anyhow::{bail, Context, Result};
use std::sync::Arc;

/// The server of one member, on its host.
pub struct RemoteServer {
    pub(super) remote: Arc<Remote>,
    /// `n1`, `s1`, ...
    pub(super) name: String,
    /// The member's folder on the host.
    pub(super) dir: String,
    bin: String,
    args: Vec<String>,
    pid: Option<u32>,
    /// What redline last did to the server or saw of it (`refresh` asks the host).
    state: ProcessState,
}

impl RemoteServer {
    pub fn new(remote: Arc<Remote>, name: &str, dir: &str, bin: &str, args: Vec<String>) -> Self {
        RemoteServer {
            remote,
            name: name.to_string(),
            dir: dir.to_string(),
            bin: bin.to_string(),
            args,
            pid: None,
            state: ProcessState::Dead,
        }
    }
}

impl Server for RemoteServer {
    async fn start(&mut self) -> Result<u32> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let script = scripts::start(&self.dir, &self.bin, &args);
        let out = self.remote.run("starting the server", &script).await?;
        let pid: u32 = out.trim().parse().with_context(|| {
            format!(
                "starting {} on {}: no pid in {out:?}",
                self.name, self.remote.label
            )
        })?;
        self.pid = Some(pid);
        self.state = ProcessState::Running;
        Ok(pid)
    }

    /// An error when the server is not there to get the signal (a fault that did nothing must
    /// not be recorded as done).
    async fn signal(&mut self, signal: Signal) -> Result<()> {
        let (name, then) = match signal {
            Signal::Kill => ("KILL", ProcessState::Dead),
            Signal::Stop => ("STOP", ProcessState::Paused),
            Signal::Cont => ("CONT", ProcessState::Running),
        };
        let node = &self.name;
        let pid = self
            .pid
            .with_context(|| format!("{node} has no server running"))?;
        let what = format!("sending SIG{name} to the server");
        let out = self
            .remote
            .run(&what, &scripts::signal(&self.dir, Some(pid), name))
            .await?;
        if out.trim() == "gone" {
            self.state = ProcessState::Dead;
            self.pid = None;
            bail!("{node}'s server (pid {pid}) is no longer running; SIG{name} not sent");
        }
        self.state = then;
        if then == ProcessState::Dead {
            self.pid = None;
        }
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.pid
    }

    fn state(&mut self) -> ProcessState {
        self.state
    }

    /// Asks the host whether the server runs, is stopped, or is gone.
    async fn refresh(&mut self) -> Result<ProcessState> {
        let Some(pid) = self.pid else {
            self.state = ProcessState::Dead;
            return Ok(self.state);
        };
        let what = "asking whether the server runs";
        let out = self
            .remote
            .run(what, &scripts::probe(&self.dir, pid))
            .await?;
        self.state = match out.trim() {
            "running" => ProcessState::Running,
            "paused" => ProcessState::Paused,
            _ => ProcessState::Dead,
        };
        Ok(self.state)
    }

    async fn in_group(&self, pid: u32) -> bool {
        let Some(leader) = self.pid else {
            return false;
        };
        let what = "asking which process group a server is in";
        let script = scripts::in_group(leader, pid);
        self.remote
            .run(what, &script)
            .await
            .is_ok_and(|out| out.trim() == "yes")
    }

    async fn output_tail(&self, log: &str) -> ServerOutput {
        let read = |file: &str, lines: usize| {
            let script = scripts::tail(&format!("{}/{file}", self.dir), lines);
            async move {
                let text = self.remote.run("reading the log", &script).await;
                text.unwrap_or_default().trim_end().to_string()
            }
        };
        ServerOutput {
            log: read(log, 15).await,
            stderr: read(scripts::OUTPUT_FILE, 5).await,
            log_location: self.location(log),
        }
    }

    fn location(&self, file: &str) -> String {
        format!("{}/{file} on {}", self.dir, self.remote.label)
    }
}
