//! A test's options: the flags of `redline test`, the tables of a suite file and the `config`
//! object of `test.json` are one struct, so the three can never drift apart.
//!
//! Values arrive as text or numbers and are checked once, by [`TestConfig::validate`], into a
//! [`Plan`] whose fields are typed; every error names the option and what to write instead.
//!
//! - [`limits`]: the accepted range of every numeric option.
//! - [`reproduce`]: the command line that reproduces a run, derived from its configuration,
//!   and the redaction of secrets (`--redis-option requirepass=...`) in what a run records.
//! - [`topology`]: `--topology`, `--shards`, `--cluster-node-timeout`: standalone or a Redis
//!   Cluster, and what each refuses.

pub mod limits;
pub mod reproduce;
pub mod topology;

use crate::cluster::netns::NetnsOptions;
use crate::cluster::redis_conf;
use crate::cluster::sharded::Sharding;
use crate::cluster::ssh::{HostLayout, SshLogin, SshOptions};
use crate::cluster::BackendKind;
use crate::nemesis::spec::NemesisSpec;
use anyhow::{bail, Context, Result};
use clap::Args;
use redline_checkers::expect::Rule;
use redline_workloads::{ReadFrom, ReplicaRouting, Workload, WorkloadConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Every option of one test.
#[derive(Debug, Clone, Args, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestConfig {
    /// Name of the test (the run folder is store/<name>/<time>); default: <workload>-<nemesis>.
    #[arg(long)]
    pub name: Option<String>,
    /// set | register | counter | wait | waitaof | list-append
    #[arg(long, default_value = "set")]
    pub workload: String,
    /// Faults: none, all, or a comma list of fault[:target], e.g. kill:master,pause:replica,
    /// power-loss:master (SIGKILL plus the loss of unsynced writes; data dirs on redline's FUSE
    /// layer), partition:isolate-master, partition:replication-cut, partition:minority (with
    /// Sentinels), delay:replica-links, promote, failover:sentinel, failover:coordinated,
    /// failover:sentinel-coordinated (Valkey 9's Sentinel). Link delay is always done by
    /// redline's proxy (this kernel has no netem).
    #[arg(long, default_value = "kill")]
    pub nemesis: String,
    /// Seconds between the starts of two faults.
    #[arg(long, default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// How long each fault lasts, in seconds (default: 60% of the interval).
    #[arg(long)]
    pub fault_duration: Option<f64>,
    /// Replicas besides the master.
    #[arg(long, default_value_t = 2)]
    pub replicas: usize,
    /// Sentinels (0: no Sentinel; the harness itself promotes and repoints).
    #[arg(long, default_value_t = 0)]
    pub sentinels: usize,
    /// standalone: a master with --replicas replicas (and --sentinels Sentinels). cluster: a
    /// Redis Cluster (Valkey cluster mode) of --shards primaries with --replicas replicas each,
    /// formed by redline; failover by the cluster bus. See docs/cluster.md.
    #[arg(long, default_value = "standalone")]
    pub topology: String,
    /// With --topology cluster: the number of shards (primaries, each with its slot range).
    #[arg(long, default_value_t = 3)]
    pub shards: usize,
    /// With --topology cluster: cluster-node-timeout in milliseconds, how long a node may be
    /// unreachable before it is flagged failing and a replica takes over its slots.
    #[arg(long, default_value_t = 2000)]
    pub cluster_node_timeout: u64,
    /// Seconds of workload (the final phase comes after).
    #[arg(long, default_value_t = 10.0)]
    pub time_limit: f64,
    /// Concurrent client processes.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Target operations per second over all clients (0: as fast as they go).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Seed for the workload and the fault schedule (default: from the clock, recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// replicas | master | any: where reads go.
    #[arg(long, default_value = "replicas")]
    pub read_from: String,
    /// sticky | round-robin: how a client picks the replica it reads from.
    #[arg(long, default_value = "sticky")]
    pub replica_routing: String,
    /// Keys the workload spreads over (default per workload: 1 set or counter, 4 registers,
    /// 8 lists).
    #[arg(long)]
    pub keys: Option<usize>,
    /// Fraction of operations that are reads, 0..1 (default per workload: 0.1 for set-like
    /// workloads, whose reads return the whole set; 0.5 otherwise).
    #[arg(long)]
    pub read_ratio: Option<f64>,
    /// Elements a set (set, wait, waitaof) or list (list-append) takes, or writes a register
    /// takes, before the workload moves on to a fresh key, so a read and a key's check cost the
    /// same at any run length (default: 100 for sets, 32 for lists, 1000 for registers; the
    /// counter ignores it).
    #[arg(long)]
    pub set_size: Option<usize>,
    /// Register workload: also compare-and-set (Lua) on the master.
    #[arg(long)]
    pub cas: bool,
    /// WAIT numreplicas after each write (wait workload).
    #[arg(long, default_value_t = 1)]
    pub wait_replicas: u64,
    /// WAIT timeout in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub wait_timeout: u64,
    /// WAITAOF numlocal (waitaof workload).
    #[arg(long, default_value_t = 1)]
    pub waitaof_local: u64,
    /// WAITAOF numreplicas (waitaof workload).
    #[arg(long, default_value_t = 1)]
    pub waitaof_replicas: u64,
    /// Longest transaction of the list-append workload.
    #[arg(long, default_value_t = 4)]
    pub max_txn_length: usize,
    /// Per-operation timeout in milliseconds; a write that times out is indeterminate (info).
    #[arg(long, default_value_t = 1000)]
    pub op_timeout: u64,
    /// Link latency added by `delay` faults, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub delay_ms: u64,
    /// Uniform jitter on top of --delay-ms, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_jitter_ms: u64,
    /// A slow disk: every fsync of a node's data answers this many milliseconds late (the
    /// data dirs then sit on redline's FUSE layer, as for the power-loss fault; needs
    /// /dev/fuse and fusermount3, and --net local or netns). 0: no delay.
    #[arg(long, default_value_t = 0)]
    pub fsync_delay_ms: u64,
    /// A redis.conf option for every node, KEY=VALUE (repeatable), e.g. appendonly=yes, save=.
    #[arg(long = "redis-option", value_name = "K=V")]
    #[serde(alias = "redis-option")]
    pub redis_options: Vec<String>,
    /// A config file included into every node's config (before --redis-option).
    #[arg(long)]
    pub redis_conf: Option<PathBuf>,
    /// The server binary (default: $REDLINE_REDIS_SERVER, then redis-server on PATH).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// local: every node on 127.0.0.1 behind redline's proxies (no root needed). netns (root):
    /// one network namespace per node on a bridge redline creates, partitions as nftables DROP
    /// rules in the namespaces; link delay needs netem, which this kernel lacks, so `delay`
    /// faults need --net local. ssh: the hosts of --nodes (implied by --nodes).
    #[arg(long, default_value = "local")]
    pub net: String,
    /// Real hosts, one per member, driven over SSH: n1=HOST[:SSH_PORT],n2=...,s1=... (n1 starts
    /// as master; s* are Sentinels). Decides --replicas and --sentinels. --server-bin is then
    /// the server's path on the hosts. Partitions are nftables rules there; see docs/hosts.md.
    #[arg(long, value_name = "NAME=HOST,...")]
    pub nodes: Option<String>,
    /// The SSH user on the hosts; for any user but root, commands run through `sudo -n`.
    #[arg(long, default_value = "root")]
    pub ssh_user: String,
    /// The SSH private key to log in with (default: ssh's own keys and agent).
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// Check host keys strictly against this known_hosts file (default: ~/.ssh/known_hosts,
    /// accepting hosts seen for the first time).
    #[arg(long)]
    pub ssh_known_hosts: Option<PathBuf>,
    /// The folder on the hosts under which each run keeps its configs, data and logs.
    #[arg(long, default_value = crate::cluster::ssh::DEFAULT_REMOTE_DIR)]
    pub remote_dir: String,
    /// Where run folders go.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Sentinel down-after-milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub sentinel_down_after: u64,
    /// Sentinel failover-timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub sentinel_failover_timeout: u64,
    /// Seconds to wait for replicas to catch up after healing.
    #[arg(long, default_value_t = 30.0)]
    pub converge_timeout: f64,
    /// What must hold (repeatable): valid, no-lost-writes, no-stale-reads, stale-reads<=P%,
    /// staleness-p99<=MS, outage<=MS, wait-durable=N, read-your-writes, monotonic-reads,
    /// linearizable, ...
    #[arg(long = "expect", value_name = "RULE")]
    pub expect: Vec<String>,
}

impl Default for TestConfig {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            config: TestConfig,
        }
        // The clap defaults are the single source of the default values.
        Defaults::parse_from(["redline"]).config
    }
}

/// A validated test: typed options, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: TestConfig,
    pub name: String,
    pub workload: &'static dyn Workload,
    pub nemesis: NemesisSpec,
    pub read_from: ReadFrom,
    pub replica_routing: ReplicaRouting,
    pub redis_options: Vec<(String, String)>,
    pub expect: Vec<Rule>,
    pub seed: u64,
    pub fault_duration: f64,
    /// The backend that runs the cluster (`--net`, `--nodes`), with its options.
    pub backend: BackendKind,
    /// `--topology cluster`: the shards; `None` for the standalone topology.
    pub sharding: Option<Sharding>,
}

impl TestConfig {
    /// Checks every value and derives what is left implicit (name, seed, fault duration; with
    /// `--nodes`, the replica and Sentinel counts).
    pub fn validate(&self) -> Result<Plan> {
        let ssh = self.ssh_options()?;
        let mut config = self.clone();
        if let Some(ssh) = &ssh {
            config.replicas = topology::replicas_of_hosts(self, ssh.layout.nodes.len())?;
            config.sentinels = ssh.layout.sentinels.len();
        }
        config.validate_counts(ssh)
    }

    /// The SSH backend's options when `--nodes` (or `--net ssh`) asks for it.
    fn ssh_options(&self) -> Result<Option<SshOptions>> {
        let Some(nodes) = &self.nodes else {
            if self.net == "ssh" {
                bail!("--net ssh needs --nodes n1=HOST,n2=HOST,... (one host per member)");
            }
            return Ok(None);
        };
        if !matches!(self.net.as_str(), "local" | "ssh") {
            bail!(
                "--nodes runs on SSH hosts; it cannot be combined with --net {}",
                self.net
            );
        }
        let layout = HostLayout::parse(nodes)?;
        if let Some(why) = crate::cluster::ssh::unavailable() {
            bail!("--nodes cannot run here: {why}");
        }
        // Absolute paths: `redline cleanup` may run from another folder and reads them back.
        let file = |flag: &str, file: &Option<PathBuf>| -> Result<Option<PathBuf>> {
            file.as_ref()
                .map(|f| {
                    f.canonicalize()
                        .ok()
                        .filter(|f| f.is_file())
                        .with_context(|| format!("{flag} {}: no such file", f.display()))
                })
                .transpose()
        };
        let key = file("--ssh-key", &self.ssh_key)?;
        let known_hosts = file("--ssh-known-hosts", &self.ssh_known_hosts)?;
        if self.ssh_user.is_empty() || self.ssh_user.contains(char::is_whitespace) {
            bail!("--ssh-user {:?} is not a user name", self.ssh_user);
        }
        if !self.remote_dir.starts_with('/') || self.remote_dir.trim_end_matches('/').is_empty() {
            bail!(
                "--remote-dir {:?} must be an absolute folder other than /",
                self.remote_dir
            );
        }
        Ok(Some(SshOptions {
            layout,
            login: SshLogin {
                user: self.ssh_user.clone(),
                key,
                known_hosts,
            },
            remote_dir: self.remote_dir.trim_end_matches('/').to_string(),
            partitions: false,
        }))
    }

    /// The backend `--net` and `--nodes` ask for (`ssh`: the options of `--nodes`), refused up
    /// front when it cannot run here or cannot make the nemesis's faults.
    fn backend(&self, nemesis: &NemesisSpec, ssh: Option<SshOptions>) -> Result<BackendKind> {
        let kind = match (self.net.as_str(), ssh) {
            ("local" | "ssh", Some(mut ssh)) => {
                // Every host then needs `nft`, checked before anything starts there.
                ssh.partitions = nemesis
                    .faults
                    .iter()
                    .any(|f| matches!(f, crate::nemesis::spec::Fault::Partition(_)));
                BackendKind::Ssh(ssh)
            }
            ("local", None) => BackendKind::Local,
            ("netns", None) => {
                if let Some(why) = crate::cluster::netns::unavailable() {
                    bail!("--net netns cannot run here: {why}");
                }
                BackendKind::Netns(NetnsOptions::default())
            }
            (other, _) => {
                bail!("--net must be local, netns or ssh (with --nodes), not {other:?}")
            }
        };
        nemesis
            .check_backend(kind.flag(), &kind.capabilities())
            .map_err(anyhow::Error::msg)?;
        if self.fsync_delay_ms > 0 {
            let lazy_disk = crate::cluster::capabilities::Capability::LazyDisk;
            if let Some(why) = kind.capabilities().refusal(lazy_disk) {
                bail!(
                    "--fsync-delay-ms: {} cannot {}: {why}",
                    kind.flag(),
                    lazy_disk.does()
                );
            }
        }
        Ok(kind)
    }

    /// Everything else [`TestConfig::validate`] checks, with the counts final.
    fn validate_counts(&self, ssh: Option<SshOptions>) -> Result<Plan> {
        let workload = redline_workloads::by_name(&self.workload)?;
        let nemesis = NemesisSpec::from_str(&self.nemesis).map_err(anyhow::Error::msg)?;
        let read_from =
            ReadFrom::from_str(&self.read_from).map_err(|e| anyhow::anyhow!("--read-from: {e}"))?;
        let replica_routing = ReplicaRouting::from_str(&self.replica_routing)
            .map_err(|e| anyhow::anyhow!("--replica-routing: {e}"))?;
        let redis_options = self
            .redis_options
            .iter()
            .map(|o| redis_conf::parse_option(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("--redis-option: {e}"))?;
        if let Some(file) = &self.redis_conf {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--redis-conf {}", file.display()))?;
            redis_conf::check_conf_text(&text)
                .map_err(|e| anyhow::anyhow!("--redis-conf {}: {e}", file.display()))?;
        }
        let expect = self
            .expect
            .iter()
            .map(|r| Rule::from_str(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("--expect: {e}"))?;
        limits::check(self)?;
        self.check_replicas_asked()?;
        let sharding = topology::sharding(self)?;
        let nemesis = match sharding {
            None => {
                nemesis
                    .check_layout(self.replicas, self.sentinels)
                    .map_err(anyhow::Error::msg)?;
                nemesis
            }
            Some(_) => {
                let nemesis = nemesis.for_cluster();
                nemesis
                    .check_cluster_layout(self.replicas)
                    .map_err(anyhow::Error::msg)?;
                nemesis
            }
        };
        let backend = self.backend(&nemesis, ssh)?;
        let fault_duration = self.fault_duration.unwrap_or(self.nemesis_interval * 0.6);
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", workload.name(), nemesis.short_name()));
        check_name(&name)?;
        let seed = self.seed.unwrap_or_else(clock_seed);
        Ok(Plan {
            config: self.clone(),
            name,
            workload,
            nemesis,
            read_from,
            replica_routing,
            redis_options,
            expect,
            seed,
            fault_duration,
            backend,
            sharding,
        })
    }

    /// Refuses reads from replicas, or WAIT/WAITAOF for more replicas, than the run has.
    fn check_replicas_asked(&self) -> Result<()> {
        if self.replicas == 0 && self.read_from == "replicas" {
            let given = if self.nodes.is_some() {
                "--nodes names no replica"
            } else {
                "--replicas 0 was given"
            };
            bail!(
                "--read-from replicas needs at least one replica ({given}); use --read-from master"
            );
        }
        let waits = matches!(self.workload.as_str(), "wait" | "waitaof");
        let asked = if self.workload == "waitaof" {
            self.waitaof_replicas
        } else {
            self.wait_replicas
        };
        if waits && asked as usize > self.replicas {
            bail!(
                "--{}-replicas {asked} asks more replicas than the cluster has (--replicas {}): every write would time out",
                self.workload, self.replicas
            );
        }
        Ok(())
    }
}

impl Plan {
    /// The lazy disk the nodes' data dirs need: for a `power-loss` fault or a slow disk
    /// (`--fsync-delay-ms`); `None` for every other run, which then mounts nothing.
    pub fn lazy_disk(&self) -> Option<redline_lazyfs::Options> {
        let wanted = self.nemesis.needs_lazy_disk() || self.config.fsync_delay_ms > 0;
        wanted.then(|| redline_lazyfs::Options {
            fsync_delay: Duration::from_millis(self.config.fsync_delay_ms),
        })
    }

    /// What the workload's generator and clients need.
    pub fn workload_config(&self) -> WorkloadConfig {
        let c = &self.config;
        let defaults = WorkloadConfig::new(self.workload);
        let shards = self.sharding.map_or(0, |s| s.shards);
        // A cluster spreads its keys over every shard, two per shard at least, so that a slot
        // migration moves some of a shard's keys and not all.
        let default_keys = defaults.keys.max(2 * shards);
        WorkloadConfig {
            keys: c.keys.unwrap_or(default_keys),
            shards,
            set_size: c.set_size.or(defaults.set_size),
            concurrency: c.concurrency,
            read_from: self.read_from,
            replica_routing: self.replica_routing,
            cas: c.cas,
            wait_replicas: c.wait_replicas,
            wait_timeout_ms: c.wait_timeout,
            waitaof_local: c.waitaof_local,
            waitaof_replicas: c.waitaof_replicas,
            max_txn_length: c.max_txn_length,
            op_timeout: Duration::from_millis(c.op_timeout),
            read_ratio: c.read_ratio.unwrap_or(defaults.read_ratio),
            ..defaults
        }
    }
}

/// A test name becomes the folder `store/<name>/`: one plain path component, and not one of
/// the names the store itself uses (`latest`, its link to the newest run, through which a run
/// so named would write into that run's folder; `suites`, where suite folders go).
pub fn check_name(name: &str) -> Result<()> {
    match folder_name_problem(name) {
        Some(problem) => bail!("--name {name:?} {problem}"),
        None => Ok(()),
    }
}

/// Why `name` cannot name a folder of the store, if it cannot.
pub fn folder_name_problem(name: &str) -> Option<&'static str> {
    let plain = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if !plain {
        return Some("cannot be used as a folder name (one path component, no leading dot, no control characters, at most 200 bytes)");
    }
    match name {
        "latest" => Some("is reserved: store/latest points at the newest run"),
        "suites" => Some("is reserved: store/suites holds the suites' folders"),
        _ => None,
    }
}

/// A seed for runs that did not ask for one; it is recorded in `test.json` so the run replays.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        % 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let plan = TestConfig::default().validate().unwrap();
        assert_eq!(plan.workload.name(), "set");
        assert_eq!(plan.name, "set-kill");
        assert!((plan.fault_duration - 3.0).abs() < 1e-9);
    }

    #[test]
    fn bad_values_name_the_option() {
        let bad = TestConfig {
            workload: "sets".into(),
            ..TestConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("unknown workload"));
        let bad = TestConfig {
            redis_options: vec!["appendonly".into()],
            ..TestConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--redis-option"));
        let bad = TestConfig {
            time_limit: -1.0,
            ..TestConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--time-limit"));
        let bad = TestConfig {
            expect: vec!["no-such-rule".into()],
            ..TestConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("--expect"));
    }

    /// A newline or CR cannot smuggle a harness-owned option past the check (issue #17), from
    /// the command line or a suite file alike (both arrive here).
    #[test]
    fn redis_options_cannot_smuggle_a_directive() {
        for option in [
            "appendonly=yes\ndir\r/tmp/x",
            "appendonly=yes\rbind 0.0.0.0",
        ] {
            let bad = TestConfig {
                redis_options: vec![option.into()],
                ..TestConfig::default()
            };
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains("--redis-option"), "{option:?}: {e}");
        }
    }

    #[test]
    fn suite_tables_reject_unknown_keys() {
        let err = toml::from_str::<TestConfig>("workload = \"set\"\nreplicaz = 2\n").unwrap_err();
        assert!(err.to_string().contains("replicaz"), "{err}");
        let ok: TestConfig =
            toml::from_str("workload = \"register\"\nread-from = \"master\"\n").unwrap();
        assert_eq!(ok.read_from, "master");
        assert_eq!(ok.replicas, 2, "unset keys take the CLI defaults");
    }
}
