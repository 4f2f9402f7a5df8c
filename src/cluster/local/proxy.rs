//! A redline-owned TCP proxy in front of one server process (node or Sentinel).
//!
//! Everyone reaches the process through its proxy: clients, replicas (nodes announce the proxy's
//! port with `replica-announce-port`) and Sentinels (which monitor proxy addresses). For each
//! connection the proxy names the connecting party ([`super::peer_identity`]) and, per chunk,
//! obeys the [`LinkTable`]: a cut link holds the bytes without closing either socket (TCP under
//! an iptables DROP behaves the same way: nothing arrives until the rule goes, then the
//! retransmitted stream resumes), a delayed link delivers each chunk after its latency, without
//! throttling the stream (a delay line, not a sleep per read).

use super::peer_identity;
use crate::cluster::links::{LinkTable, Party};
use anyhow::{Context, Result};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Which server processes exist, by pid, so a proxy can name the party behind a connection.
pub type KnownPids = Arc<RwLock<HashMap<u32, Party>>>;

/// A running proxy; dropping it closes the listener and every connection through it.
#[derive(Debug)]
pub struct Proxy {
    /// Where others connect.
    pub listen: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts proxying `listener` to `upstream` (the process `target`).
    pub fn start(
        listener: std::net::TcpListener,
        target: Party,
        upstream: SocketAddr,
        links: Arc<LinkTable>,
        known: KnownPids,
    ) -> Result<Proxy> {
        listener.set_nonblocking(true)?;
        let listen = listener.local_addr()?;
        let listener = TcpListener::from_std(listener)
            .with_context(|| format!("registering proxy listener {listen}"))?;
        let task = tokio::spawn(accept_loop(listener, target, upstream, links, known));
        Ok(Proxy { listen, task })
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: Party,
    upstream: SocketAddr,
    links: Arc<LinkTable>,
    known: KnownPids,
) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    // Dropping the set (when this task is aborted) aborts every connection task.
    let mut connections = JoinSet::new();
    loop {
        let (inbound, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("proxy for {target}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let source = identify_party(peer, local, &known).await;
        connections.spawn(serve(
            inbound,
            source,
            target.clone(),
            upstream,
            links.clone(),
        ));
    }
}

/// The party behind a connection: a server process of this run, else redline's clients.
async fn identify_party(peer: SocketAddr, local: SocketAddr, known: &KnownPids) -> Party {
    let known = known.read().map(|k| k.clone()).unwrap_or_default();
    tokio::task::spawn_blocking(move || peer_identity::identify(peer, local, &known))
        .await
        .ok()
        .flatten()
        .unwrap_or(Party::Clients)
}

async fn serve(
    inbound: TcpStream,
    source: Party,
    target: Party,
    upstream: SocketAddr,
    links: Arc<LinkTable>,
) {
    // A cut link must not even let the connection reach the server.
    links.wait_open(&source, &target).await;
    let Ok(outbound) = TcpStream::connect(upstream).await else {
        return; // the server is down: closing the inbound socket is what a dead host's RST does
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let forward = pump(
        in_read,
        out_write,
        source.clone(),
        target.clone(),
        links.clone(),
    );
    let backward = pump(out_read, in_write, target, source, links);
    tokio::join!(forward, backward);
}

/// Copies bytes `from -> to`, obeying cuts and delays of the directed link `src -> dst`.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    src: Party,
    dst: Party,
    links: Arc<LinkTable>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let writer_links = links.clone();
    let (w_src, w_dst) = (src.clone(), dst.clone());
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            // The timer wheel ticks in milliseconds: never touch it for undelayed chunks.
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
            }
            writer_links.wait_open(&w_src, &w_dst).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            links.wait_open(&src, &dst).await;
            let due = match latency(&links, &src, &dst) {
                Duration::ZERO => Instant::now(),
                d => Instant::now() + d,
            };
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(reader, writer);
}

fn latency(links: &LinkTable, src: &Party, dst: &Party) -> Duration {
    match links.delay_of(src, dst) {
        None => Duration::ZERO,
        Some(d) if d.jitter.is_zero() => d.base,
        Some(d) => {
            let extra = rand::thread_rng().gen_range(0..=d.jitter.as_micros() as u64);
            d.base + Duration::from_micros(extra)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::links::Delay;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn start_proxy(upstream: SocketAddr, links: Arc<LinkTable>) -> Proxy {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Proxy::start(
            l,
            Party::Node("n1".into()),
            upstream,
            links,
            KnownPids::default(),
        )
        .unwrap()
    }

    async fn round_trip(s: &mut TcpStream, msg: &[u8], within: Duration) -> Option<Duration> {
        let start = Instant::now();
        s.write_all(msg).await.ok()?;
        let mut buf = vec![0u8; msg.len()];
        tokio::time::timeout(within, s.read_exact(&mut buf))
            .await
            .ok()?
            .ok()?;
        assert_eq!(buf, msg);
        Some(start.elapsed())
    }

    #[tokio::test]
    async fn cut_holds_bytes_and_heal_releases_them_on_the_same_connection() {
        let links = Arc::new(LinkTable::default());
        let proxy = start_proxy(echo_server().await, links.clone());
        let mut s = TcpStream::connect(proxy.listen).await.unwrap();
        assert!(round_trip(&mut s, b"ping", Duration::from_secs(1))
            .await
            .is_some());
        links.cut(&[(Party::Clients, Party::Node("n1".into()))]);
        assert!(round_trip(&mut s, b"lost?", Duration::from_millis(200))
            .await
            .is_none());
        links.heal_all();
        let mut buf = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(1), s.read_exact(&mut buf))
            .await
            .expect("held bytes arrive after heal")
            .unwrap();
        assert_eq!(&buf, b"lost?");
    }

    #[tokio::test]
    async fn delay_adds_latency_per_direction() {
        let links = Arc::new(LinkTable::default());
        let proxy = start_proxy(echo_server().await, links.clone());
        let mut s = TcpStream::connect(proxy.listen).await.unwrap();
        let d = Delay {
            base: Duration::from_millis(60),
            jitter: Duration::ZERO,
        };
        links.delay(&[(Party::Node("n1".into()), Party::Clients)], d);
        let rtt = round_trip(&mut s, b"x", Duration::from_secs(2))
            .await
            .unwrap();
        assert!(rtt >= Duration::from_millis(60), "{rtt:?}");
        assert!(rtt < Duration::from_millis(600), "{rtt:?}");
    }
}
