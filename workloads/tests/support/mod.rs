//! Real `redis-server` processes for the live tests, each a guard that kills its server (and
//! resumes it first, if a test paused it) when dropped, so no test leaves a process behind.

#![allow(dead_code)]

use redline_workloads::Topology;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// On a fresh Debian machine (as root), installs Debian's Redis packages once, the way
/// `redline` itself does, so `cargo test` works there without a manual step.
fn ensure_installed() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::path::Path::new(REDIS_SERVER).exists() {
            return;
        }
        let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
        let placed = !policy.exists() && std::fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok();
        if placed {
            let _ = Command::new("chmod")
                .args(["755", "/usr/sbin/policy-rc.d"])
                .status();
        }
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-q", "redis-server", "redis-sentinel"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
        if placed {
            let _ = std::fs::remove_file(policy);
        }
        assert!(
            std::path::Path::new(REDIS_SERVER).exists(),
            "redis-server is missing: sudo apt-get install -y redis-server redis-sentinel"
        );
    });
}

/// One running `redis-server` on 127.0.0.1, killed on drop.
pub struct RedisServer {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server named `name` (a master, or a replica of `replica_of`) and waits until it
    /// answers PING; panics after 5 s.
    pub fn start(name: &str, replica_of: Option<&RedisServer>) -> RedisServer {
        ensure_installed();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut cmd = Command::new(REDIS_SERVER);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            // Start a full sync at once (the default waits 5 s for more replicas).
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(master) = replica_of {
            cmd.args(["--replicaof", "127.0.0.1", &master.addr.port().to_string()]);
        }
        let child = cmd.spawn().expect("spawn redis-server");
        let server = RedisServer {
            name: name.to_string(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            _dir: dir,
        };
        server.wait_for(|s| s.call(&["PING"]).contains("PONG"), "PING");
        server
    }

    /// Polls `ready` every 20 ms for up to 5 s; panics with `what` otherwise.
    pub fn wait_for(&self, ready: impl Fn(&RedisServer) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if ready(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{}: {what} not ready within 5 s", self.name);
    }

    /// Waits until this replica's link to its master is up.
    pub fn wait_replicating(&self) {
        self.wait_for(
            |s| {
                s.call(&["INFO", "replication"])
                    .contains("master_link_status:up")
            },
            "replication link",
        );
    }

    /// Runs a command with a short-lived blocking connection; returns the raw RESP reply text
    /// ("" on any error).
    pub fn call(&self, args: &[&str]) -> String {
        raw_call(self.addr, args)
    }

    /// SIGSTOP: the process stops answering but keeps its sockets open.
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }
}

/// Sends one command over a fresh blocking connection and returns the raw reply text.
fn raw_call(addr: SocketAddr, args: &[&str]) -> String {
    {
        use std::io::{Read, Write};
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        if stream.write_all(req.as_bytes()).is_err() {
            return String::new();
        }
        let mut buf = vec![0u8; 65536];
        let n = stream.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

/// A port nothing listens on right now (bind 127.0.0.1:0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A master and one replica, replicating.
pub fn master_and_replica() -> (RedisServer, RedisServer) {
    let master = RedisServer::start("n1", None);
    let replica = RedisServer::start("n2", Some(&master));
    replica.wait_replicating();
    (master, replica)
}

/// The topology of `servers`, with `master` as the master.
pub fn topology(servers: &[&RedisServer], master: &str) -> Topology {
    let nodes: Vec<(String, SocketAddr)> =
        servers.iter().map(|s| (s.name.clone(), s.addr)).collect();
    Topology::new(&nodes, master)
}

/// One `redis-sentinel` monitoring `master` as `mymaster` (quorum 1), killed on drop.
pub struct Sentinel {
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    pub fn start(master: &RedisServer) -> Sentinel {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nlogfile sentinel.log\n\
             sentinel monitor mymaster 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 5000\n",
            dir.path().display(),
            master.addr.port()
        );
        std::fs::write(&conf, text).expect("write sentinel.conf");
        let child = Command::new("/usr/bin/redis-sentinel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-sentinel");
        Sentinel {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            _dir: dir,
        }
    }

    /// Runs a command against the Sentinel ("" on error).
    pub fn call(&self, args: &[&str]) -> String {
        // A Sentinel speaks RESP like a server; reuse the server helper's wire code.
        raw_call(self.addr, args)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
