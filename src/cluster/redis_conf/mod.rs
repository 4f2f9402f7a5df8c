//! The configuration files redline writes for its nodes and Sentinels, and the one rule every
//! value handed to a server's config goes through.
//!
//! Nodes get only what the harness needs (ports, paths, replication through the proxies, fast
//! failure detection) plus what the user asked for; everything else stays at the server's
//! defaults, so a run tests the configuration a team would actually deploy. User options come
//! last and win.
//!
//! A config is read by the server line by line, each line split into arguments the way
//! `sdssplitargs` splits them. So every value redline writes must stay one argument of one
//! line: a newline or CR inside a value would start a directive of its own (`dir`, `bind`, ...)
//! that no check saw. [`check_option`] is that rule, applied when an option is parsed (for a
//! clear error up front) and again by the writer for every line it renders (paths included), so
//! no path into a config skips it. A `--redis-conf` file is read the way the server reads it
//! (`conf_file.rs`), so quoting cannot hide a key from the checks.

mod conf_file;

pub use conf_file::{check_conf_text, split_args};

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
///
/// `protected-mode` belongs here because it decides reachability, as `bind` does: with it on
/// and no password, a server refuses every connection that does not come from loopback, so in
/// network namespaces or on SSH hosts the replicas, the Sentinels and the clients could not
/// reach it, and a run would measure the setting instead of replication. (Where a password is
/// set the server ignores it anyway.)
pub const HARNESS_OWNED: &[&str] = &[
    "port",
    "bind",
    "protected-mode",
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

/// Why a value cannot go into a server's config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    #[error("{key} is set by redline itself (it needs it to start, signal and clean up the servers); leave it out")]
    HarnessOwned { key: String },
    #[error("include is not allowed: an included file could set anything unchecked (redline includes --redis-conf itself; put its options there)")]
    Include,
    #[error("{key:?} is not an option name (letters, digits, '-', '_' and '.')")]
    BadKey { key: String },
    #[error("the value of {key} holds a control character (newline, CR, ...): a config value must be one argument of one line")]
    ControlCharacter { key: String },
    #[error("line {line}: {source}")]
    Line {
        line: usize,
        #[source]
        source: Box<ConfError>,
    },
    #[error("line {line}: unbalanced quotes (the server would refuse this file)")]
    UnbalancedQuotes { line: usize },
}

/// An error when `key` is one of [`HARNESS_OWNED`] or `include`.
pub fn check_not_owned(key: &str) -> Result<(), ConfError> {
    if key.eq_ignore_ascii_case("include") {
        return Err(ConfError::Include);
    }
    if HARNESS_OWNED.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return Err(ConfError::HarnessOwned {
            key: key.to_string(),
        });
    }
    Ok(())
}

/// The rule for one user option: a plain option name, not one redline owns, and a value that
/// stays one argument of one line.
pub fn check_option(key: &str, value: &str) -> Result<(), ConfError> {
    check_key(key)?;
    check_not_owned(key)?;
    check_value(key, value)
}

/// An option name: what redis and valkey name their directives with (module options have dots).
fn check_key(key: &str) -> Result<(), ConfError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if key.is_empty() || !key.chars().all(plain) {
        return Err(ConfError::BadKey {
            key: key.to_string(),
        });
    }
    Ok(())
}

/// One argument of one line: no control character, which a server would take as the end of the
/// argument or of the line. Everything else is kept literally by [`quote`].
fn check_value(key: &str, value: &str) -> Result<(), ConfError> {
    if value.chars().any(char::is_control) {
        return Err(ConfError::ControlCharacter {
            key: key.to_string(),
        });
    }
    Ok(())
}

/// Whether an option's value is a secret (a password, or an ACL rule that may hold one), to be
/// kept out of records and reproduce commands and stored in files only their owner can read.
pub fn is_secret_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "user" || key.contains("pass") || key.contains("auth")
}

/// Writes `text` to `path`, readable and writable by its owner only (a config may hold
/// passwords); an existing file is made private too.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// A config being written: every directive's arguments are checked by the one rule and quoted.
struct ConfWriter {
    text: String,
}

impl ConfWriter {
    fn new(header: &str) -> ConfWriter {
        ConfWriter {
            text: format!("# {header}\n"),
        }
    }

    fn comment(&mut self, text: &str) {
        let _ = writeln!(self.text, "# {text}");
    }

    fn directive(&mut self, key: &str, args: &[&str]) -> Result<(), ConfError> {
        check_key(key)?;
        self.text.push_str(key);
        for arg in args {
            check_value(key, arg)?;
            self.text.push(' ');
            self.text.push_str(&quote(arg));
        }
        self.text.push('\n');
        Ok(())
    }

    /// The lines every server redline starts has: where it listens and keeps its files (its
    /// log in `dir`, its data in `data`).
    fn placement(
        &mut self,
        port: u16,
        bind: &[IpAddr],
        (dir, data): (&Path, &Path),
        log: &str,
    ) -> Result<(), ConfError> {
        let bind: Vec<String> = bind.iter().map(IpAddr::to_string).collect();
        let bind: Vec<&str> = bind.iter().map(String::as_str).collect();
        self.directive("bind", &bind)?;
        self.directive("port", &[&port.to_string()])?;
        self.directive("protected-mode", &["no"])?;
        self.directive("daemonize", &["no"])?;
        self.directive("dir", &[&data.display().to_string()])?;
        self.directive("logfile", &[&dir.join(log).display().to_string()])
    }
}

/// Everything a node's config depends on.
pub struct NodeConf<'a> {
    pub port: u16,
    /// The addresses it listens on, on its host.
    pub bind: &'a [IpAddr],
    /// Its folder on its host.
    pub dir: &'a Path,
    /// Where it keeps its data when not in its folder (a lazy disk's mount).
    pub data_dir: Option<&'a Path>,
    /// The address others use to reach this node; announced to the master and Sentinels.
    pub announce: SocketAddr,
    /// The master's address as others reach it, for a replica.
    pub replica_of: Option<SocketAddr>,
    /// `--redis-option` pairs, in order.
    pub options: &'a [(String, String)],
    /// `--redis-conf`: a file whose text is included verbatim before the user options.
    pub include: Option<&'a Path>,
}

/// Renders a node's `redis.conf`; refuses a user option or a path that breaks the rule.
pub fn node_conf(c: &NodeConf<'_>) -> Result<String, ConfError> {
    let mut w = ConfWriter::new("written by redline for this run; user options come last");
    w.placement(
        c.port,
        c.bind,
        (c.dir, c.data_dir.unwrap_or(c.dir)),
        "redis.log",
    )?;
    w.directive("replica-announce-ip", &[&c.announce.ip().to_string()])?;
    w.directive("replica-announce-port", &[&c.announce.port().to_string()])?;
    for (k, v, why) in HARNESS_DEFAULTS {
        w.comment(why);
        w.directive(k, &[v])?;
    }
    if let Some(m) = c.replica_of {
        w.directive("replicaof", &[&m.ip().to_string(), &m.port().to_string()])?;
    }
    if let Some(path) = c.include {
        w.directive("include", &[&path.display().to_string()])?;
    }
    for (k, v) in c.options {
        check_option(k, v)?;
        w.directive(k, &[v])?;
    }
    Ok(w.text)
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
pub fn sentinel_conf(c: &SentinelConf<'_>) -> Result<String, ConfError> {
    let mut w = ConfWriter::new("written by redline for this run");
    w.placement(c.port, c.bind, (c.dir, c.dir), "sentinel.log")?;
    let announce = [c.announce.ip().to_string(), c.announce.port().to_string()];
    let (ip, port) = (c.master.ip().to_string(), c.master.port().to_string());
    let (quorum, down) = (c.quorum.to_string(), c.down_after_ms.to_string());
    let failover = c.failover_timeout_ms.to_string();
    let lines: [&[&str]; 6] = [
        &["announce-ip", &announce[0]],
        &["announce-port", &announce[1]],
        &["monitor", MASTER_NAME, &ip, &port, &quorum],
        &["down-after-milliseconds", MASTER_NAME, &down],
        &["failover-timeout", MASTER_NAME, &failover],
        &["parallel-syncs", MASTER_NAME, "1"],
    ];
    for args in lines {
        w.directive("sentinel", args)?;
    }
    Ok(w.text)
}

/// Quotes a config value when it needs it (spaces, quotes, empty strings such as `save ""`),
/// so the server reads it back as one argument, literally.
fn quote(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '"', '\'', '\\', '\t']) {
        return v.to_string();
    }
    let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Parses `k=v` (`--redis-option`); the value may be empty (`save=`) or quoted (`save=""`).
/// The pair must pass [`check_option`].
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
    check_option(k, v).map_err(|e| format!("{text:?}: {e}"))?;
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_owned_options_are_refused_in_flags_and_files() {
        assert!(check_not_owned("appendonly").is_ok());
        let e = check_not_owned("DIR").unwrap_err().to_string();
        assert!(e.contains("set by redline"), "{e}");
        assert!(check_conf_text("# dir /x\nappendonly yes\n").is_ok());
        let e = check_conf_text("save \"\"\n  daemonize yes\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2: daemonize"), "{e}");
    }

    /// A newline or CR in a value would start a directive of its own (`dir`, `bind`, ...).
    #[test]
    fn a_value_is_one_token_of_the_config() {
        for bad in [
            "appendonly=yes\ndir\r/tmp/x",
            "appendonly=yes\rdir /tmp/x",
            "appendonly=yes\nsave",
            "save=\u{0}",
            "append\nonly=yes",
        ] {
            assert!(parse_option(bad).is_err(), "{bad:?} is accepted");
        }
        assert!(check_not_owned("protected-mode").is_err());
        assert!(check_not_owned("include").is_err());
    }

    /// Keys are read the way redis reads them: quotes and escapes make no other key.
    #[test]
    fn conf_file_keys_are_read_as_redis_reads_them() {
        for bad in [
            "\"dir\" /tmp/x\n",
            "d\"ir\" /tmp/x\n",
            "\"\\x64ir\" /tmp/x\n",
            "'dir' /tmp/x\n",
            "  DIR /tmp/x\r\n",
            "include /etc/other.conf\n",
            "protected-mode yes\n",
        ] {
            assert!(check_conf_text(bad).is_err(), "{bad:?} is accepted");
        }
        assert!(check_conf_text("appendonly yes\nsave \"\"\n# dir /x\n").is_ok());
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
            data_dir: Some(Path::new("/tmp/n2/data")),
            announce: "127.0.0.1:17001".parse().unwrap(),
            replica_of: Some("127.0.0.1:17000".parse().unwrap()),
            options: &opts,
            include: None,
        })
        .unwrap();
        assert!(text.contains("bind 127.0.0.1\n"));
        assert!(
            text.contains("dir /tmp/n2/data\n"),
            "data on its disk: {text}"
        );
        assert!(
            text.contains("logfile /tmp/n2/redis.log\n"),
            "the log beside it"
        );
        assert!(text.contains("replicaof 127.0.0.1 17000"));
        assert!(text.contains("replica-announce-port 17001"));
        assert!(text.trim_end().ends_with("save \"\""));
    }

    /// The writer applies the rule to every line, paths included: a spec built by hand cannot
    /// smuggle a directive in either.
    #[test]
    fn the_writer_refuses_what_the_rule_refuses() {
        let bind = ["127.0.0.1".parse().unwrap()];
        let conf = |dir: &'static str, opts: &[(String, String)]| {
            node_conf(&NodeConf {
                port: 7001,
                bind: &bind,
                dir: Path::new(dir),
                data_dir: None,
                announce: "127.0.0.1:17001".parse().unwrap(),
                replica_of: None,
                options: opts,
                include: None,
            })
        };
        let smuggled = [("appendonly".to_string(), "yes\ndir\r/tmp".to_string())];
        assert!(conf("/tmp/n1", &smuggled).is_err());
        let owned = [("Protected-Mode".to_string(), "yes".to_string())];
        assert!(conf("/tmp/n1", &owned).is_err());
        assert!(conf("/tmp/n1\nbind 0.0.0.0", &[]).is_err());
        let spaced = [("save".to_string(), "3600 1 'x'".to_string())];
        let text = conf("/tmp/my run", &spaced).unwrap();
        assert!(text.contains("dir \"/tmp/my run\"\n"), "{text}");
        let last = text.lines().last().unwrap();
        assert_eq!(split_args(last.as_bytes()).unwrap().len(), 2, "{last}");
    }

    #[test]
    fn secrets_are_recognised_by_their_option_name() {
        for secret in [
            "requirepass",
            "masterauth",
            "primaryauth",
            "user",
            "tls-key-file-pass",
        ] {
            assert!(is_secret_option(secret), "{secret}");
        }
        for plain in ["appendonly", "save", "masteruser", "maxmemory"] {
            assert!(!is_secret_option(plain), "{plain}");
        }
    }
}
