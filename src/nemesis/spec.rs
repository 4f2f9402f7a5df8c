//! The `--nemesis` language: a comma list of `fault[:target]`, `all`, or `none`.

use crate::cluster::capabilities::{Capabilities, Capability};
use redline_checkers::Function;
use std::fmt;
use std::str::FromStr;

/// Which node(s) a process fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Master,
    Replica,
    Random,
    AllReplicas,
}

/// A partition, by Jepsen's grudge names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grudge {
    /// The master cut from every other party, its clients included.
    IsolateMaster,
    /// One replica cut from every other party.
    IsolateReplica,
    /// The master cannot reach the replicas (nor they it); Sentinels and clients still reach
    /// everyone.
    ReplicationCut,
    /// Nodes and Sentinels in two random halves; clients reach both.
    Halves,
    /// The master, with a minority of the Sentinels, cut from the replicas and the other
    /// Sentinels; clients still reach it. The classic split-brain: the majority fails over while
    /// the old master keeps acknowledging its clients' writes.
    Minority,
    /// The master with a majority of the Sentinels on one side: no failover should happen.
    Majority,
}

/// Where `delay` adds latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DelayTarget {
    /// Between the master and every replica, both directions.
    ReplicaLinks,
    /// Between the clients and every node, both directions.
    ClientLinks,
}

/// Operator-initiated failovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailoverKind {
    /// `SENTINEL FAILOVER <name>`.
    Sentinel,
    /// The `FAILOVER` command on the master (Redis 6.2+): writes pause until a replica caught up.
    Coordinated,
}

/// One kind of fault the nemesis may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Kill(Target),
    /// SIGKILL plus the loss of every write the node's data dir had not made durable (its
    /// machine lost power); healed by `start`, on what the disk kept.
    PowerLoss(Target),
    Pause(Target),
    Partition(Grudge),
    Delay(DelayTarget),
    /// Manual failover by the harness: REPLICAOF NO ONE on a replica, repoint the rest.
    Promote,
    Failover(FailoverKind),
}

impl Fault {
    /// The optional backend capability this fault needs, if any (every backend can kill, pause
    /// and promote).
    pub fn needs(&self) -> Option<Capability> {
        match self {
            Fault::Partition(_) => Some(Capability::Partition),
            Fault::Delay(_) => Some(Capability::LinkDelay),
            Fault::PowerLoss(_) => Some(Capability::LazyDisk),
            Fault::Kill(_) | Fault::Pause(_) | Fault::Promote | Fault::Failover(_) => None,
        }
    }
}

/// The faults a run may inject (empty for `none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NemesisSpec {
    pub faults: Vec<Fault>,
    text: String,
}

impl NemesisSpec {
    pub fn none() -> NemesisSpec {
        NemesisSpec {
            faults: Vec::new(),
            text: "none".into(),
        }
    }

    pub fn is_none(&self) -> bool {
        self.faults.is_empty()
    }

    /// Whether the nodes' data dirs must sit on lazy disks (a `power-loss` fault).
    pub fn needs_lazy_disk(&self) -> bool {
        self.faults.iter().any(|f| matches!(f, Fault::PowerLoss(_)))
    }

    /// A short name for run folders: `none`, `kill`, `kill+partition`, ...
    pub fn short_name(&self) -> String {
        if self.faults.is_empty() {
            return "none".into();
        }
        let mut names: Vec<String> = self
            .faults
            .iter()
            .map(|f| f.function().to_string())
            .collect();
        names.dedup();
        names.join("+")
    }

    /// Refuses faults the backend cannot make (`backend`: the flag that chose it, for the
    /// message), asking the same capabilities the nemesis asks the running cluster.
    pub fn check_backend(&self, backend: &str, capabilities: &Capabilities) -> Result<(), String> {
        for f in &self.faults {
            let Some(needs) = f.needs() else { continue };
            if let Some(why) = capabilities.refusal(needs) {
                return Err(format!("{backend} cannot {}: {why}", needs.does()));
            }
        }
        Ok(())
    }

    /// Refuses faults the layout cannot have: Sentinel faults without Sentinels, a manual
    /// promotion that would fight Sentinel, replica faults without replicas.
    pub fn check_layout(&self, replicas: usize, sentinels: usize) -> Result<(), String> {
        for f in &self.faults {
            let needs_sentinels = matches!(
                f,
                Fault::Failover(FailoverKind::Sentinel)
                    | Fault::Partition(Grudge::Minority | Grudge::Majority)
            );
            if needs_sentinels && sentinels == 0 {
                return Err(format!("--nemesis {f} needs Sentinels: add --sentinels 3"));
            }
            if *f == Fault::Promote && sentinels > 0 {
                return Err(
                    "--nemesis promote is the harness's manual failover and would fight \
                            Sentinel; with --sentinels use failover:sentinel or partition:minority"
                        .into(),
                );
            }
            let needs_replica = matches!(
                f,
                Fault::Promote
                    | Fault::Failover(_)
                    | Fault::Delay(DelayTarget::ReplicaLinks)
                    | Fault::Partition(Grudge::IsolateReplica | Grudge::ReplicationCut)
                    | Fault::Kill(Target::Replica | Target::AllReplicas)
                    | Fault::PowerLoss(Target::Replica | Target::AllReplicas)
                    | Fault::Pause(Target::Replica | Target::AllReplicas)
            );
            if needs_replica && replicas == 0 {
                return Err(format!("--nemesis {f} needs at least one replica"));
            }
        }
        Ok(())
    }
}

impl Fault {
    /// The history function of this fault's nemesis records (its family, without the target).
    pub fn function(&self) -> Function {
        match self {
            Fault::Kill(_) => Function::Kill,
            Fault::PowerLoss(_) => Function::PowerLoss,
            Fault::Pause(_) => Function::Pause,
            Fault::Partition(_) => Function::Partition,
            Fault::Delay(_) => Function::Delay,
            Fault::Promote => Function::Promote,
            Fault::Failover(_) => Function::Failover,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = |t: &Target| match t {
            Target::Master => "master",
            Target::Replica => "replica",
            Target::Random => "random",
            Target::AllReplicas => "all-replicas",
        };
        match self {
            Fault::Kill(t) => write!(f, "kill:{}", target(t)),
            Fault::PowerLoss(t) => write!(f, "power-loss:{}", target(t)),
            Fault::Pause(t) => write!(f, "pause:{}", target(t)),
            Fault::Partition(g) => write!(f, "partition:{}", grudge_name(*g)),
            Fault::Delay(DelayTarget::ReplicaLinks) => f.write_str("delay:replica-links"),
            Fault::Delay(DelayTarget::ClientLinks) => f.write_str("delay:client-links"),
            Fault::Promote => f.write_str("promote"),
            Fault::Failover(FailoverKind::Sentinel) => f.write_str("failover:sentinel"),
            Fault::Failover(FailoverKind::Coordinated) => f.write_str("failover:coordinated"),
        }
    }
}

pub fn grudge_name(g: Grudge) -> &'static str {
    match g {
        Grudge::IsolateMaster => "isolate-master",
        Grudge::IsolateReplica => "isolate-replica",
        Grudge::ReplicationCut => "replication-cut",
        Grudge::Halves => "halves",
        Grudge::Minority => "minority",
        Grudge::Majority => "majority",
    }
}

impl fmt::Display for NemesisSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const HELP: &str = "expected none, all, or a comma list of kill[:master|replica|random|all-replicas], \
pause[:...same targets], power-loss[:...same targets], partition[:isolate-master|isolate-replica|replication-cut|halves|minority|majority], \
delay[:replica-links|client-links], promote, failover:sentinel, failover:coordinated";

impl FromStr for NemesisSpec {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text {
            "none" | "" => return Ok(NemesisSpec::none()),
            "all" => {
                let faults = vec![
                    Fault::Kill(Target::Random),
                    Fault::Pause(Target::Random),
                    Fault::Partition(Grudge::IsolateMaster),
                    Fault::Partition(Grudge::ReplicationCut),
                    Fault::Delay(DelayTarget::ReplicaLinks),
                    Fault::Promote,
                ];
                return Ok(NemesisSpec {
                    faults,
                    text: "all".into(),
                });
            }
            _ => {}
        }
        let faults = text
            .split(',')
            .map(|item| parse_fault(item.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NemesisSpec {
            faults,
            text: text.to_string(),
        })
    }
}

fn parse_fault(item: &str) -> Result<Fault, String> {
    let (name, arg) = match item.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (item, None),
    };
    let target = |a: Option<&str>, default: Target| -> Result<Target, String> {
        match a {
            None => Ok(default),
            Some("master") => Ok(Target::Master),
            Some("replica") => Ok(Target::Replica),
            Some("random") => Ok(Target::Random),
            Some("all-replicas") => Ok(Target::AllReplicas),
            Some(other) => Err(format!(
                "unknown target {other:?} in {item:?} (master, replica, random, all-replicas)"
            )),
        }
    };
    let fault = match name {
        "kill" => Fault::Kill(target(arg, Target::Random)?),
        "power-loss" => Fault::PowerLoss(target(arg, Target::Random)?),
        "pause" => Fault::Pause(target(arg, Target::Random)?),
        "partition" => Fault::Partition(match arg.unwrap_or("isolate-master") {
            "isolate-master" => Grudge::IsolateMaster,
            "isolate-replica" => Grudge::IsolateReplica,
            "replication-cut" => Grudge::ReplicationCut,
            "halves" => Grudge::Halves,
            "minority" => Grudge::Minority,
            "majority" => Grudge::Majority,
            other => return Err(format!("unknown partition {other:?}; {HELP}")),
        }),
        "delay" => Fault::Delay(match arg.unwrap_or("replica-links") {
            "replica-links" => DelayTarget::ReplicaLinks,
            "client-links" => DelayTarget::ClientLinks,
            other => return Err(format!("unknown delay target {other:?}; {HELP}")),
        }),
        "promote" if arg.is_none() => Fault::Promote,
        "failover" => Fault::Failover(match arg.unwrap_or("sentinel") {
            "sentinel" => FailoverKind::Sentinel,
            "coordinated" => FailoverKind::Coordinated,
            other => return Err(format!("unknown failover {other:?}; {HELP}")),
        }),
        _ => return Err(format!("unknown fault {item:?}; {HELP}")),
    };
    Ok(fault)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::capabilities::Support;

    /// A backend without link delay refuses a plan with `delay`, with its own reason, and
    /// nothing else; one without partitions refuses every partition.
    #[test]
    fn plans_are_checked_against_what_the_backend_can_do() {
        let no_delay = Capabilities {
            partition: Support::Yes,
            link_delay: Support::No("no netem here"),
            lazy_disk: Support::Yes,
        };
        let spec: NemesisSpec = "kill,pause,partition:isolate-master,promote"
            .parse()
            .unwrap();
        assert!(spec.check_backend("--net netns", &no_delay).is_ok());
        let spec: NemesisSpec = "kill,delay:replica-links".parse().unwrap();
        let e = spec.check_backend("--net netns", &no_delay).unwrap_err();
        assert_eq!(e, "--net netns cannot delay links: no netem here");
        let no_partition = Capabilities {
            partition: Support::No("no firewall"),
            link_delay: Support::Yes,
            lazy_disk: Support::Yes,
        };
        let spec: NemesisSpec = "partition:halves".parse().unwrap();
        let e = spec.check_backend("--x", &no_partition).unwrap_err();
        assert!(e.contains("cannot cut links: no firewall"), "{e}");
    }

    /// `power-loss` takes the process-fault targets, needs a lazy disk (refused with the
    /// backend's reason where there is none) and is paired with `start` like `kill`.
    #[test]
    fn power_loss_is_a_process_fault_that_needs_a_lazy_disk() {
        let spec: NemesisSpec = "power-loss:master,kill".parse().unwrap();
        assert_eq!(spec.faults[0], Fault::PowerLoss(Target::Master));
        assert_eq!(spec.faults[0].to_string(), "power-loss:master");
        assert_eq!(spec.short_name(), "power-loss+kill");
        assert!(spec.needs_lazy_disk());
        assert!(!"kill".parse::<NemesisSpec>().unwrap().needs_lazy_disk());
        assert_eq!(
            "power-loss".parse::<NemesisSpec>().unwrap().faults,
            vec![Fault::PowerLoss(Target::Random)]
        );
        let no_fuse = Capabilities {
            partition: Support::Yes,
            link_delay: Support::Yes,
            lazy_disk: Support::No("no /dev/fuse"),
        };
        let e = spec.check_backend("--net local", &no_fuse).unwrap_err();
        assert_eq!(
            e,
            "--net local cannot put data dirs on a lazy disk (power-loss, --fsync-delay-ms): \
             no /dev/fuse"
        );
        let replica: NemesisSpec = "power-loss:replica".parse().unwrap();
        assert!(replica.check_layout(0, 0).is_err());
        assert_eq!(
            Fault::PowerLoss(Target::Master).function().heal(),
            Some(Function::Start)
        );
    }

    #[test]
    fn parses_lists_and_defaults() {
        let s: NemesisSpec = "kill:master,pause,partition:replication-cut,delay"
            .parse()
            .unwrap();
        assert_eq!(
            s.faults,
            vec![
                Fault::Kill(Target::Master),
                Fault::Pause(Target::Random),
                Fault::Partition(Grudge::ReplicationCut),
                Fault::Delay(DelayTarget::ReplicaLinks)
            ]
        );
        assert_eq!(s.short_name(), "kill+pause+partition+delay");
        assert!("none".parse::<NemesisSpec>().unwrap().is_none());
        assert_eq!("all".parse::<NemesisSpec>().unwrap().faults.len(), 6);
    }

    #[test]
    fn rejects_unknown_faults_with_help() {
        let err = "kil".parse::<NemesisSpec>().unwrap_err();
        assert!(
            err.contains("unknown fault") && err.contains("partition["),
            "{err}"
        );
        assert!("kill:leader"
            .parse::<NemesisSpec>()
            .unwrap_err()
            .contains("unknown target"));
    }

    #[test]
    fn layout_checks() {
        let s: NemesisSpec = "failover:sentinel".parse().unwrap();
        assert!(s.check_layout(2, 0).unwrap_err().contains("--sentinels"));
        assert!(s.check_layout(2, 3).is_ok());
        let p: NemesisSpec = "promote".parse().unwrap();
        assert!(p.check_layout(2, 3).is_err());
        assert!(p.check_layout(0, 0).is_err());
    }
}
