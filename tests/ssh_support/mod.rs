//! Hosts for the SSH backend's tests, built by the tests themselves: network namespaces on a
//! bridge of their own (`rlh<6 hex>`, on a free `10.89.<n>.0/24`), each running Debian's
//! `sshd` on its own address with a host key generated for the test, and a client key that
//! every host authorizes. redline drives them exactly as real hosts: the only addresses it
//! contacts are these namespaces'. Dropping [`SshHosts`] kills everything inside the namespaces
//! and removes them with the bridge.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Subnet choice and creation happen under this lock (tests of one binary run in parallel).
static CREATE: Mutex<()> = Mutex::new(());

/// Why these tests cannot run here, if so: root, `ip netns`, `nft`, `sshd`, `ssh-keygen`, and a
/// local redis-server (the hosts share this machine's filesystem).
pub fn skip_reason() -> Option<String> {
    if let Some(why) = redline::cluster::netns::unavailable() {
        return Some(why);
    }
    if let Some(why) = redline::cluster::ssh::unavailable() {
        return Some(why);
    }
    for tool in ["/usr/sbin/sshd", "/usr/bin/ssh-keygen"] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is missing (apt-get install -y openssh-server)"
            ));
        }
    }
    redline::provision::locate_server(None, false)
        .err()
        .map(|e| format!("no redis-server: {e:#}"))
}

/// Returns early from a test, saying why, when the machine cannot run it.
#[macro_export]
macro_rules! skip_unless_ssh_hosts {
    () => {
        if let Some(why) = ssh_support::skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// One test host.
pub struct TestHost {
    /// `h1`, `h2`, ...
    pub name: String,
    pub namespace: String,
    pub addr: Ipv4Addr,
    sshd: Child,
}

/// A set of test hosts and the key to log in to them.
pub struct SshHosts {
    pub prefix: String,
    pub hosts: Vec<TestHost>,
    /// The client's private key (authorized on every host).
    pub key: PathBuf,
    /// A known_hosts file with every host's key.
    pub known_hosts: PathBuf,
    /// A folder for remote run folders (the hosts share this machine's filesystem).
    pub remote_dir: PathBuf,
    dir: tempfile::TempDir,
}

fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl SshHosts {
    /// Creates `count` hosts, each running sshd, and waits until each accepts connections.
    pub fn create(count: usize) -> SshHosts {
        let dir = tempfile::tempdir().expect("temp dir");
        let (prefix, third) = {
            let _guard = CREATE.lock().unwrap_or_else(|e| e.into_inner());
            let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
            let hex = format!(
                "{:06x}",
                (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos()) & 0xff_ffff
            );
            let prefix = format!("rlh{hex}");
            let used = sh("ip", &["-4", "-o", "addr", "show"]);
            let third = (0..=255u8)
                .map(|i| i.wrapping_add((nanos() & 0xff) as u8))
                .find(|n| !used.contains(&format!("10.89.{n}.")))
                .expect("a free 10.89.<n>.0/24");
            let bridge = format!("{prefix}br");
            sh("ip", &["link", "add", &bridge, "type", "bridge"]);
            sh(
                "ip",
                &[
                    "addr",
                    "add",
                    &format!("10.89.{third}.1/24"),
                    "dev",
                    &bridge,
                ],
            );
            sh("ip", &["link", "set", &bridge, "up"]);
            (prefix, third)
        };
        let mut hosts = SshHosts {
            prefix: prefix.clone(),
            hosts: Vec::new(),
            key: dir.path().join("id"),
            known_hosts: dir.path().join("known_hosts"),
            remote_dir: dir.path().join("remote"),
            dir,
        };
        std::fs::create_dir_all(&hosts.remote_dir).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap(); // sshd's privilege separation folder
        let key = hosts.key.display().to_string();
        sh("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", &key]);
        std::fs::copy(
            format!("{key}.pub"),
            hosts.dir.path().join("authorized_keys"),
        )
        .unwrap();
        let mut known = String::new();
        for i in 1..=count {
            let host = hosts.start_host(i, third);
            let pubkey =
                std::fs::read_to_string(hosts.dir.path().join(format!("host_key_h{i}.pub")))
                    .unwrap();
            known.push_str(&format!("{} {}", host.addr, pubkey));
            hosts.hosts.push(host);
        }
        std::fs::write(&hosts.known_hosts, known).unwrap();
        for h in &hosts.hosts {
            wait_for_port(h.addr, 22);
        }
        hosts
    }

    fn start_host(&self, i: usize, third: u8) -> TestHost {
        let name = format!("h{i}");
        let ns = format!("{}{name}", self.prefix);
        let addr = Ipv4Addr::new(10, 89, third, 10 + i as u8);
        sh("ip", &["netns", "add", &ns]);
        sh(
            "ip",
            &[
                "link", "add", &ns, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ],
        );
        sh(
            "ip",
            &[
                "link",
                "set",
                &ns,
                "master",
                &format!("{}br", self.prefix),
                "up",
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ],
        );
        sh("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
        sh("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        let config = self.sshd_config(&name, addr);
        let d = self.dir.path();
        let log = std::fs::File::create(d.join(format!("sshd_{name}.log"))).unwrap();
        let sshd = Command::new("ip")
            .args(["netns", "exec", &ns, "/usr/sbin/sshd", "-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        TestHost {
            name,
            namespace: ns,
            addr,
            sshd,
        }
    }

    /// Writes host `name`'s host key and sshd configuration (listening on `addr`); returns the
    /// configuration's path.
    fn sshd_config(&self, name: &str, addr: Ipv4Addr) -> std::path::PathBuf {
        let d = self.dir.path();
        let host_key = d.join(format!("host_key_{name}"));
        sh(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                host_key.to_str().unwrap(),
            ],
        );
        let config = d.join(format!("sshd_{name}.conf"));
        std::fs::write(
            &config,
            format!(
                "ListenAddress {addr}\nPort 22\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 AllowTcpForwarding yes\nMaxSessions 100\nMaxStartups 100\n\
                 PidFile {}\n",
                host_key.display(),
                d.join("authorized_keys").display(),
                d.join(format!("sshd_{name}.pid")).display()
            ),
        )
        .unwrap();
        config
    }

    /// `--nodes` for members named `members` (n1, n2, s1, ...), one host each, in order.
    pub fn nodes_arg(&self, members: &[&str]) -> String {
        assert!(members.len() <= self.hosts.len(), "not enough hosts");
        members
            .iter()
            .zip(&self.hosts)
            .map(|(m, h)| format!("{m}={}", h.addr))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The flags that point `redline test` at these hosts.
    pub fn flags(&self, members: &[&str]) -> Vec<String> {
        vec![
            "--nodes".into(),
            self.nodes_arg(members),
            "--ssh-key".into(),
            self.key.display().to_string(),
            "--ssh-known-hosts".into(),
            self.known_hosts.display().to_string(),
            "--remote-dir".into(),
            self.remote_dir.display().to_string(),
        ]
    }

    /// Pids of processes in the hosts' namespaces other than sshd (its daemon and sessions).
    pub fn servers(&self) -> Vec<(String, u32)> {
        let mut found = Vec::new();
        for h in &self.hosts {
            let pids = sh("ip", &["netns", "pids", &h.namespace]);
            for pid in pids
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
            {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if !comm.trim().starts_with("sshd") && !comm.trim().is_empty() {
                    found.push((format!("{} {}", h.name, comm.trim()), pid));
                }
            }
        }
        found
    }

    /// The redis servers running on the hosts (`servers` minus transient remote commands).
    pub fn redis_servers(&self) -> Vec<(String, u32)> {
        self.servers()
            .into_iter()
            .filter(|(what, _)| what.contains(" redis-"))
            .collect()
    }

    /// nftables tables in the hosts' namespaces (`<host>: <table>`).
    pub fn tables(&self) -> Vec<String> {
        self.hosts
            .iter()
            .flat_map(|h| {
                sh(
                    "ip",
                    &["netns", "exec", &h.namespace, "nft", "list", "tables"],
                )
                .lines()
                .map(|l| format!("{}: {l}", h.name))
                .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Entries left in the remote folder.
    pub fn remote_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(&self.remote_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything a run may have left on the hosts: servers, tables, remote folders. Polls for
    /// up to 3 s, since a SIGKILLed process takes a moment to vanish.
    pub fn leftovers(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let mut left: Vec<String> = self
                .servers()
                .into_iter()
                .map(|(what, pid)| format!("process {what} ({pid})"))
                .collect();
            left.extend(self.tables().into_iter().map(|t| format!("table {t}")));
            left.extend(
                self.remote_leftovers()
                    .into_iter()
                    .map(|r| format!("folder {r}")),
            );
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            let _ = h.sshd.kill();
            let _ = h.sshd.wait();
            let pids = Command::new("ip")
                .args(["netns", "pids", &h.namespace])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for pid in pids
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: signalling a process inside a namespace this test created.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            let _ = Command::new("ip")
                .args(["link", "del", &h.namespace])
                .output();
            let _ = Command::new("ip")
                .args(["netns", "del", &h.namespace])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}br", self.prefix)])
            .output();
    }
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn wait_for_port(addr: Ipv4Addr, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&(addr, port).into(), Duration::from_millis(200))
            .is_ok()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("sshd on {addr}:{port} did not come up within 10 s");
}
