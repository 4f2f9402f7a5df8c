//! Where clients find the master and the replicas.
//!
//! The harness tells the topology what it did (a manual promotion sets the master); with
//! Sentinel, clients instead ask the Sentinels, as applications do, with
//! `SENTINEL get-master-addr-by-name`. Every address a node is known by (its client address, the
//! address Sentinel announces) maps back to the node's name, so a client can say which node
//! served an operation.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use thiserror::Error;

/// A node as a client reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The node's name (`n1`, `n2`, ...).
    pub node: String,
    /// The address clients connect to.
    pub addr: SocketAddr,
}

#[derive(Debug, Error)]
pub enum TopologyError {
    #[error("no master is known")]
    NoMaster,
    #[error("no Sentinel answered for master {name:?}: {last_error}")]
    SentinelUnreachable { name: String, last_error: String },
    #[error("Sentinel names master {addr}, which is none of this run's nodes")]
    UnknownAddress { addr: String },
}

#[derive(Debug, Default)]
struct State {
    /// Client address of every node, by name.
    nodes: BTreeMap<String, SocketAddr>,
    /// Every address a node is known by, back to its name.
    aliases: HashMap<SocketAddr, String>,
    master: Option<String>,
    sentinels: Vec<SocketAddr>,
    master_name: String,
    /// A Redis Cluster: clients route each key by its slot ([`crate::cluster`]).
    cluster: bool,
}

/// Called with (new master, replicas) just *before* a change of master takes effect.
pub type MasterChangeHook = Arc<dyn Fn(&str, &[String]) + Send + Sync>;

/// Shared, cheaply cloned view of the cluster layout.
#[derive(Clone, Default)]
pub struct Topology {
    state: Arc<RwLock<State>>,
    hook: Arc<RwLock<Option<MasterChangeHook>>>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("state", &*self.read())
            .finish()
    }
}

impl Topology {
    /// A topology of `nodes` (name, client address) with `master` as the master.
    pub fn new(nodes: &[(String, SocketAddr)], master: &str) -> Topology {
        let state = State {
            nodes: nodes.iter().cloned().collect(),
            aliases: nodes.iter().map(|(n, a)| (*a, n.clone())).collect(),
            master: Some(master.to_string()),
            sentinels: Vec::new(),
            master_name: String::new(),
            cluster: false,
        };
        Topology {
            state: Arc::new(RwLock::new(state)),
            hook: Arc::default(),
        }
    }

    /// Registers the function told of every change of master, before clients can see it. The
    /// harness records the change in the history there: a record that declares the new master
    /// must precede every operation a client sends to it, or a checker would see the new
    /// master act before it was declared.
    pub fn on_master_change(&self, hook: MasterChangeHook) {
        *self.hook.write().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Makes clients discover the master through these Sentinels, under `master_name`.
    pub fn use_sentinels(&self, sentinels: Vec<SocketAddr>, master_name: &str) {
        let mut s = self.write();
        s.sentinels = sentinels;
        s.master_name = master_name.to_string();
    }

    /// Records a new master (after a promotion the harness made, or one Sentinel announced).
    /// The change hook runs first; setting the current master again does nothing.
    pub fn set_master(&self, node: &str) {
        if self.read().master.as_deref() == Some(node) {
            return;
        }
        let replicas: Vec<String> = self
            .read()
            .nodes
            .keys()
            .filter(|n| *n != node)
            .cloned()
            .collect();
        let hook = self.hook.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(hook) = hook {
            hook(node, &replicas);
        }
        self.write().master = Some(node.to_string());
    }

    /// Makes this the view of a Redis Cluster: the nodes are the seeds clients ask for the slot
    /// map, and every key goes to its slot's primary (or one of its replicas).
    pub fn use_cluster(&self) {
        self.write().cluster = true;
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.read().cluster
    }

    /// Whether clients look the master up through Sentinel.
    pub fn uses_sentinel(&self) -> bool {
        !self.read().sentinels.is_empty()
    }

    /// The master as the harness knows it.
    pub fn master(&self) -> Option<Endpoint> {
        let s = self.read();
        let node = s.master.clone()?;
        let addr = *s.nodes.get(&node)?;
        Some(Endpoint { node, addr })
    }

    /// Every node except the known master, in name order.
    pub fn replicas(&self) -> Vec<Endpoint> {
        let s = self.read();
        s.nodes
            .iter()
            .filter(|(n, _)| Some(*n) != s.master.as_ref())
            .map(|(n, a)| Endpoint {
                node: n.clone(),
                addr: *a,
            })
            .collect()
    }

    /// Every node, in name order.
    pub fn nodes(&self) -> Vec<Endpoint> {
        self.read()
            .nodes
            .iter()
            .map(|(n, a)| Endpoint {
                node: n.clone(),
                addr: *a,
            })
            .collect()
    }

    /// The name of the node known by `addr`.
    pub fn node_at(&self, addr: SocketAddr) -> Option<String> {
        self.read().aliases.get(&addr).cloned()
    }

    /// The master clients should write to now: asked of the Sentinels (first that answers) when
    /// there are any, else the harness's view.
    pub async fn discover_master(&self, timeout: Duration) -> Result<Endpoint, TopologyError> {
        let (sentinels, name) = {
            let s = self.read();
            (s.sentinels.clone(), s.master_name.clone())
        };
        if sentinels.is_empty() {
            return self.master().ok_or(TopologyError::NoMaster);
        }
        let mut last_error = String::from("no Sentinel configured");
        for sentinel in sentinels {
            match ask_sentinel(sentinel, &name, timeout).await {
                Ok(addr) => {
                    let node = self
                        .node_at(addr)
                        .ok_or_else(|| TopologyError::UnknownAddress {
                            addr: addr.to_string(),
                        })?;
                    let addr = self.read().nodes.get(&node).copied().unwrap_or(addr);
                    return Ok(Endpoint { node, addr });
                }
                Err(e) => last_error = format!("{sentinel}: {e}"),
            }
        }
        Err(TopologyError::SentinelUnreachable { name, last_error })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// `SENTINEL get-master-addr-by-name` against one Sentinel, bounded by `timeout`.
async fn ask_sentinel(
    sentinel: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<SocketAddr, String> {
    let query = async {
        let client =
            redis::Client::open(format!("redis://{sentinel}/")).map_err(|e| e.to_string())?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        let reply: Option<(String, u16)> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(name)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let (host, port) = reply.ok_or_else(|| format!("Sentinel does not know {name:?}"))?;
        format!("{host}:{port}")
            .parse::<SocketAddr>()
            .map_err(|e| format!("bad address {host}:{port}: {e}"))
    };
    tokio::time::timeout(timeout, query)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}
