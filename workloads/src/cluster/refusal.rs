//! The answers with which a cluster node refuses a command without running it, read from a
//! [`Failure`]: `MOVED slot host:port` (the slot lives elsewhere now), `ASK slot host:port`
//! (this one command goes there: the slot is migrating), `TRYAGAIN` (a multi-key command whose
//! keys are split by a migration in progress) and `CLUSTERDOWN` (the node does not serve
//! queries: it sees a slot uncovered, or is cut off from the majority).

use crate::outcome::Failure;
use std::net::{IpAddr, SocketAddr};

/// A cluster refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Moved { slot: u16, addr: SocketAddr },
    Ask { slot: u16, addr: SocketAddr },
    TryAgain,
    ClusterDown,
}

impl Refusal {
    /// The refusal `failure` is, if it is one. `from` is the address the command went to: a
    /// redirect that names no host (`MOVED 3999 :6381`) means the same host.
    pub fn of(failure: &Failure, from: SocketAddr) -> Option<Refusal> {
        let Failure::Rejected { code, message } = failure else {
            return None;
        };
        match code.as_str() {
            "MOVED" | "ASK" => {
                let (slot, addr) = redirect(message, from.ip())?;
                Some(match code.as_str() {
                    "MOVED" => Refusal::Moved { slot, addr },
                    _ => Refusal::Ask { slot, addr },
                })
            }
            "TRYAGAIN" => Some(Refusal::TryAgain),
            "CLUSTERDOWN" => Some(Refusal::ClusterDown),
            _ => None,
        }
    }

    /// The word a history's `redirects` uses for it.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Moved { .. } => "moved",
            Refusal::Ask { .. } => "ask",
            Refusal::TryAgain => "tryagain",
            Refusal::ClusterDown => "clusterdown",
        }
    }
}

/// `3999 127.0.0.1:6381` → (3999, the address).
fn redirect(message: &str, same_host: IpAddr) -> Option<(u16, SocketAddr)> {
    let mut words = message.split_whitespace();
    let slot = words.next()?.parse().ok()?;
    let target = words.next()?;
    let (host, port) = target.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let ip = match host.trim_matches(['[', ']']) {
        "" | "?" => same_host,
        h => h.parse().ok()?,
    };
    Some((slot, SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: &str, message: &str) -> Failure {
        Failure::Rejected {
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn reads_every_refusal() {
        let from: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            Refusal::of(&rejected("MOVED", "3999 127.0.0.1:6381"), from),
            Some(Refusal::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".parse().unwrap()
            })
        );
        assert_eq!(
            Refusal::of(&rejected("ASK", "12 :7002"), from),
            Some(Refusal::Ask {
                slot: 12,
                addr: "127.0.0.1:7002".parse().unwrap()
            })
        );
        assert_eq!(
            Refusal::of(
                &rejected("TRYAGAIN", "Multiple keys request during rehashing of slot"),
                from
            ),
            Some(Refusal::TryAgain)
        );
        assert_eq!(
            Refusal::of(&rejected("CLUSTERDOWN", "The cluster is down"), from),
            Some(Refusal::ClusterDown)
        );
        assert_eq!(Refusal::of(&rejected("READONLY", "x"), from), None);
        assert_eq!(Refusal::of(&Failure::NotSent("x".into()), from), None);
        assert_eq!(Refusal::of(&rejected("MOVED", "garbage"), from), None);
    }
}
