//! A redline-owned TCP proxy in front of one server process (node or Sentinel).
//!
//! Everyone reaches the process through its proxy: clients, replicas (nodes announce the proxy's
//! port with `replica-announce-port`) and Sentinels (which monitor proxy addresses). For each
//! connection the proxy names the connecting party ([`super::peer_identity`]) and, per chunk,
//! obeys the [`LinkTable`] ([`super::pump`]): a cut link holds the bytes without closing either
//! socket (TCP under an iptables DROP behaves the same way: nothing arrives until the rule goes,
//! then the retransmitted stream resumes), a delayed link delivers each chunk after its latency,
//! without throttling the stream (a delay line, not a sleep per read), and an open link passes
//! each chunk straight through.
//!
//! Proxies cost every message two more system calls and a hop (about 16 µs of CPU per proxied
//! request on a 2-core VM, as much as HAProxy: `examples/proxy_overhead`), so a cluster has them
//! only when its plan can cut or delay a link (`ClusterSpec::link_faults`); otherwise everyone
//! reaches each server directly.

use super::peer_identity;
use super::pump::{pump, Link};
use crate::cluster::links::{LinkTable, Party};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

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
    let forward = Link::new(source.clone(), target.clone(), links.clone());
    let backward = Link::new(target, source, links);
    tokio::join!(
        pump(in_read, out_write, forward),
        pump(out_read, in_write, backward)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::links::Delay;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

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

    /// Rules flip while a stream flows through in both directions (straight, queued, held,
    /// delayed, and back): every byte arrives once, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn switching_ways_mid_stream_loses_and_reorders_nothing() {
        let links = Arc::new(LinkTable::default());
        let proxy = start_proxy(echo_server().await, links.clone());
        let s = TcpStream::connect(proxy.listen).await.unwrap();
        let (mut rx, mut tx) = s.into_split();
        let message: Vec<u8> = (0..1_500_000u32).map(|i| (i % 253) as u8).collect();
        let sent = message.clone();
        let writer = tokio::spawn(async move {
            for (i, chunk) in sent.chunks(3_000).enumerate() {
                tx.write_all(chunk).await.unwrap();
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            tx
        });
        let flipper = {
            let links = links.clone();
            tokio::spawn(async move {
                let to_node = [(Party::Clients, Party::Node("n1".into()))];
                let from_node = [(Party::Node("n1".into()), Party::Clients)];
                let d = Delay {
                    base: Duration::from_millis(3),
                    jitter: Duration::from_millis(2),
                };
                for round in 0..40 {
                    match round % 4 {
                        0 => links.cut(&to_node),
                        1 => links.delay(&from_node, d),
                        2 => links.heal_partitions(),
                        _ => links.clear_delays(),
                    }
                    tokio::time::sleep(Duration::from_millis(7)).await;
                }
                links.heal_all();
            })
        };
        let mut received = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(30), rx.read_exact(&mut received))
            .await
            .expect("the whole stream comes back")
            .unwrap();
        flipper.await.unwrap();
        let _tx = writer.await.unwrap();
        assert!(received == message, "bytes lost or reordered");
    }

    /// A server that, once told (one byte from the client), writes `count` small messages half a
    /// millisecond apart (each its own segment), then goes quiet with the connection open: what
    /// a primary does to its replica when writes stop.
    async fn burst_server(count: usize, size: usize) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            s.set_nodelay(true).unwrap();
            let mut go = [0u8; 1];
            if s.read_exact(&mut go).await.is_err() {
                return;
            }
            let msg = vec![b'r'; size];
            for _ in 0..count {
                if s.write_all(&msg).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            // Quiet, not closed: nothing new will wake the proxy's reader.
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        addr
    }

    /// Bytes held by a cut, many small segments waiting in the proxy's socket at the heal, and
    /// then silence: the proxy must still deliver them all. A pump that takes a read for proof
    /// that its socket drained when it is not waits for a wake-up that never comes: the
    /// splicing pump did (a short splice proves nothing, the pipe has a slot per segment), and
    /// left a replica stuck behind its primary after a short replication cut, in a cluster run
    /// that then could not converge; this test timed out against it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bytes_held_by_a_cut_all_arrive_after_the_heal_without_new_traffic() {
        let (count, size) = (1000, 40);
        let links = Arc::new(LinkTable::default());
        let proxy = start_proxy(burst_server(count, size).await, links.clone());
        let mut s = TcpStream::connect(proxy.listen).await.unwrap();
        links.cut(&[(Party::Node("n1".into()), Party::Clients)]);
        s.write_all(b"g").await.unwrap();
        // The server writes everything into the cut link: the proxy queues what it reads until
        // its queue is full, the rest waits in its socket as hundreds of small segments.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        links.heal_all();
        let mut received = vec![0u8; count * size];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut received))
            .await
            .expect("every held byte arrives after the heal")
            .unwrap();
        assert!(received.iter().all(|b| *b == b'r'));
    }

    /// A proxied request/reply stream goes straight through: round trips without rules.
    #[tokio::test]
    async fn an_open_link_relays_round_trips() {
        let links = Arc::new(LinkTable::default());
        let proxy = start_proxy(echo_server().await, links);
        let mut s = TcpStream::connect(proxy.listen).await.unwrap();
        for i in 0..200u32 {
            let msg = format!("ping {i}");
            assert!(round_trip(&mut s, msg.as_bytes(), Duration::from_secs(2))
                .await
                .is_some());
        }
    }
}
