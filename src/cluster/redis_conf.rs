//! The configuration files redline writes for its nodes and Sentinels.
//!
//! Nodes get only what the harness needs (ports, paths, replication through the proxies, fast
//! failure detection) plus what the user asked for; everything else stays at the server's
//! defaults, so a run tests the configuration a team would actually deploy. User options come
//! last and win.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The name Sentinels monitor the master under.
pub const MASTER_NAME: &str = "redline";

/// Options redline sets unless the user overrides them, with why.
pub const HARNESS_DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "repl-timeout",
        "5",
        "a cut replication link is noticed in seconds, not the default minute",
    ),
    (
        "repl-diskless-sync-delay",
        "0",
        "a full resync starts at once instead of waiting 5 s for more replicas to join it",
    ),
    (
        "repl-ping-replica-period",
        "1",
        "keeps the replication stream's heartbeat below repl-timeout",
    ),
];

/// Options the harness itself sets and relies on (addresses, folders, the process model,
/// replication wiring): a user value would break fault injection or cleanup, so it is refused.
pub const HARNESS_OWNED: &[&str] = &[
    "port",
    "bind",
    "dir",
    "daemonize",
    "logfile",
    "pidfile",
    "replicaof",
    "slaveof",
    "replica-announce-ip",
    "replica-announce-port",
    "slave-announce-ip",
    "slave-announce-port",
];

/// An error when `key` is one of [`HARNESS_OWNED`].
pub fn check_not_owned(key: &str) -> Result<(), String> {
    if HARNESS_OWNED.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return Err(format!(
            "{key} is set by redline itself (it needs it to start, signal and clean up the servers); leave it out"
        ));
    }
    Ok(())
}

/// The first harness-owned option set in a config file's text, as an error.
pub fn check_conf_text(text: &str) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let Some(key) = line.split_whitespace().next() else {
            continue;
        };
        if key.starts_with('#') {
            continue;
        }
        check_not_owned(key).map_err(|e| format!("line {}: {e}", i + 1))?;
    }
    Ok(())
}

/// Everything a node's config depends on.
pub struct NodeConf<'a> {
    pub port: u16,
    /// The addresses it listens on, on its host.
    pub bind: &'a [IpAddr],
    /// Its folder on its host.
    pub dir: &'a Path,
    /// The address others use to reach this node; announced to the master and Sentinels.
    pub announce: SocketAddr,
    /// The master's address as others reach it, for a replica.
    pub replica_of: Option<SocketAddr>,
    /// `--redis-option` pairs, in order.
    pub options: &'a [(String, String)],
    /// `--redis-conf`: a file whose text is included verbatim before the user options.
    pub include: Option<&'a Path>,
}

/// Renders a node's `redis.conf`.
pub fn node_conf(c: &NodeConf<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# written by redline for this run; user options come last"
    );
    let _ = writeln!(s, "bind {}", bind_line(c.bind));
    let _ = writeln!(s, "port {}", c.port);
    let _ = writeln!(s, "protected-mode no");
    let _ = writeln!(s, "daemonize no");
    let _ = writeln!(s, "dir {}", quote(&c.dir.display().to_string()));
    let _ = writeln!(
        s,
        "logfile {}",
        quote(&c.dir.join("redis.log").display().to_string())
    );
    let _ = writeln!(s, "replica-announce-ip {}", c.announce.ip());
    let _ = writeln!(s, "replica-announce-port {}", c.announce.port());
    for (k, v, why) in HARNESS_DEFAULTS {
        let _ = writeln!(s, "# {why}\n{k} {v}");
    }
    if let Some(m) = c.replica_of {
        let _ = writeln!(s, "replicaof {} {}", m.ip(), m.port());
    }
    if let Some(path) = c.include {
        let _ = writeln!(s, "include {}", quote(&path.display().to_string()));
    }
    for (k, v) in c.options {
        let _ = writeln!(s, "{k} {}", quote(v));
    }
    s
}

/// Everything a Sentinel's config depends on.
pub struct SentinelConf<'a> {
    pub port: u16,
    pub bind: &'a [IpAddr],
    pub dir: &'a Path,
    pub announce: SocketAddr,
    pub master: SocketAddr,
    pub quorum: usize,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
}

/// Renders a Sentinel's config (Sentinel rewrites it while it runs, so it must stay writable).
pub fn sentinel_conf(c: &SentinelConf<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# written by redline for this run");
    let _ = writeln!(s, "bind {}", bind_line(c.bind));
    let _ = writeln!(s, "port {}", c.port);
    let _ = writeln!(s, "protected-mode no");
    let _ = writeln!(s, "daemonize no");
    let _ = writeln!(s, "dir {}", quote(&c.dir.display().to_string()));
    let _ = writeln!(
        s,
        "logfile {}",
        quote(&c.dir.join("sentinel.log").display().to_string())
    );
    let _ = writeln!(s, "sentinel announce-ip {}", c.announce.ip());
    let _ = writeln!(s, "sentinel announce-port {}", c.announce.port());
    let _ = writeln!(
        s,
        "sentinel monitor {MASTER_NAME} {} {} {}",
        c.master.ip(),
        c.master.port(),
        c.quorum
    );
    let _ = writeln!(
        s,
        "sentinel down-after-milliseconds {MASTER_NAME} {}",
        c.down_after_ms
    );
    let _ = writeln!(
        s,
        "sentinel failover-timeout {MASTER_NAME} {}",
        c.failover_timeout_ms
    );
    let _ = writeln!(s, "sentinel parallel-syncs {MASTER_NAME} 1");
    s
}

/// The addresses of a `bind` line.
fn bind_line(bind: &[IpAddr]) -> String {
    let addrs: Vec<String> = bind.iter().map(IpAddr::to_string).collect();
    addrs.join(" ")
}

/// Quotes a config value when it needs it (spaces, empty strings such as `save ""`).
fn quote(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '"', '\\', '\t']) {
        return v.to_string();
    }
    let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Parses `k=v` (`--redis-option`); the value may be empty (`save=`) or quoted (`save=""`).
pub fn parse_option(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE (e.g. appendonly=yes)"))?;
    let k = k.trim();
    if k.is_empty() || k.contains(char::is_whitespace) {
        return Err(format!("{text:?}: the option name is empty or has spaces"));
    }
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_owned_options_are_refused_in_flags_and_files() {
        assert!(check_not_owned("appendonly").is_ok());
        let e = check_not_owned("DIR").unwrap_err();
        assert!(e.contains("set by redline"), "{e}");
        assert!(check_conf_text("# dir /x\nappendonly yes\n").is_ok());
        let e = check_conf_text("save \"\"\n  daemonize yes\n").unwrap_err();
        assert!(e.starts_with("line 2: daemonize"), "{e}");
    }

    #[test]
    fn options_parse_with_empty_and_quoted_values() {
        assert_eq!(parse_option("save=").unwrap(), ("save".into(), "".into()));
        assert_eq!(
            parse_option("save=\"\"").unwrap(),
            ("save".into(), "".into())
        );
        assert_eq!(
            parse_option("appendfsync=always").unwrap(),
            ("appendfsync".into(), "always".into())
        );
        assert!(parse_option("appendonly").is_err());
        assert!(parse_option("=yes").is_err());
    }

    #[test]
    fn node_conf_points_replicas_at_the_proxy_and_user_options_win() {
        let opts = vec![("save".to_string(), "".to_string())];
        let text = node_conf(&NodeConf {
            port: 7001,
            bind: &["127.0.0.1".parse().unwrap()],
            dir: Path::new("/tmp/n2"),
            announce: "127.0.0.1:17001".parse().unwrap(),
            replica_of: Some("127.0.0.1:17000".parse().unwrap()),
            options: &opts,
            include: None,
        });
        assert!(text.contains("bind 127.0.0.1\n"));
        assert!(text.contains("replicaof 127.0.0.1 17000"));
        assert!(text.contains("replica-announce-port 17001"));
        assert!(text.trim_end().ends_with("save \"\""));
    }
}
