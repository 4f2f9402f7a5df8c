//! One direction of a proxied connection: the bytes from one socket to the other, obeying the
//! link table for the directed link `src -> dst`.
//!
//! Bytes move one of two ways, chosen afresh whenever the pump has nothing in flight:
//! - *spliced*, while the link is neither cut nor delayed (nearly always): splice(2) from the
//!   socket into a pipe and from the pipe into the other socket ([`super::pipe`]); the bytes
//!   never enter user space and no chunk is allocated.
//! - *queued*, while the link is cut or delayed: each chunk read is stamped with the time it is
//!   due (now + the link's latency) and written once due and the link is open. Reading goes on
//!   while chunks wait, so a delay is a delay line, not a throttle.
//!
//! Order: every byte is either in the pipe or in the queue, never some in each. The pump
//! splices in only when the queue is empty and queues only when the pipe is empty, and it
//! empties the pipe before anything else, so switching ways mid-stream neither loses nor
//! reorders a byte. A cut holds bytes wherever they are (pipe or queue) without closing
//! either socket, as TCP under an iptables DROP behaves: nothing arrives until the link heals,
//! then the stream resumes. Bytes already in the pipe when a delay begins go out undelayed:
//! they were read before the rule.
//!
//! The link's rules are read from the table only after the table changed (a watch channel),
//! so the per-chunk cost of obeying them is an atomic load.

use super::pipe::Pipe;
use crate::cluster::links::{Delay, LinkTable, Party};
use rand::Rng;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::time::Instant;

/// How many chunks may wait in the queue before the pump stops reading (back-pressure on the
/// sender, as a full receive window would be).
const MAX_QUEUED: usize = 256;
/// The largest chunk read on the queued way.
const CHUNK: usize = 16 * 1024;

/// The rules of one directed link, cached until the table changes.
pub struct Link {
    src: Party,
    dst: Party,
    table: Arc<LinkTable>,
    changes: watch::Receiver<u64>,
    cut: bool,
    delay: Option<Delay>,
}

impl Link {
    /// The link `src -> dst` of `table`.
    pub fn new(src: Party, dst: Party, table: Arc<LinkTable>) -> Link {
        // Subscribe first: a change after this is seen by `refresh`.
        let changes = table.subscribe();
        let mut link = Link {
            src,
            dst,
            table,
            changes,
            cut: false,
            delay: None,
        };
        link.read_rules();
        link
    }

    fn read_rules(&mut self) {
        self.cut = self.table.is_cut(&self.src, &self.dst);
        self.delay = self.table.delay_of(&self.src, &self.dst);
    }

    /// Re-reads the rules if the table changed since the last look.
    fn refresh(&mut self) {
        if self.changes.has_changed().unwrap_or(false) {
            self.changes.borrow_and_update();
            self.read_rules();
        }
    }

    /// Whether bytes may take the spliced way now: neither cut nor delayed.
    fn is_plain(&mut self) -> bool {
        self.refresh();
        !self.cut && self.delay.is_none()
    }

    /// Waits until the link is not cut (at once when it is not; when the table is gone, the
    /// cluster is being torn down and nothing holds the bytes any more).
    async fn wait_open(&mut self) {
        self.refresh();
        while self.cut {
            if self.changes.changed().await.is_err() {
                return;
            }
            // `changed` marked the new rules seen: read them here, `refresh` would not.
            self.read_rules();
        }
    }

    /// When a chunk read now is due: now plus the link's latency (base plus uniform jitter).
    fn due(&mut self) -> Instant {
        self.refresh();
        let latency = match self.delay {
            None => Duration::ZERO,
            Some(d) if d.jitter.is_zero() => d.base,
            Some(d) => {
                let jitter = d.jitter.as_micros().min(u64::MAX as u128) as u64;
                d.base + Duration::from_micros(rand::thread_rng().gen_range(0..=jitter))
            }
        };
        Instant::now() + latency
    }
}

/// Copies `from -> to` until `from` ends or either side fails, then shuts `to`'s write side.
pub async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut link: Link) {
    // Without a pipe (out of descriptors) every chunk takes the queued way.
    let mut pipe = Pipe::new().ok();
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; CHUNK];
    let mut ended = false;
    loop {
        if let Some(p) = pipe.as_mut().filter(|p| p.pending() > 0) {
            link.wait_open().await;
            if drain(p, &to).await.is_err() {
                return;
            }
        } else if let Some(due) = queue.front().map(|c| c.0) {
            let readable = !ended && queue.len() < MAX_QUEUED;
            // The timer ticks in milliseconds: chunks already due do not touch it.
            let wait = async {
                if due > Instant::now() {
                    tokio::time::sleep_until(due).await;
                }
            };
            tokio::select! {
                biased;
                () = wait => {
                    link.wait_open().await;
                    let Some((_, chunk)) = queue.pop_front() else { continue };
                    if to.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                read = from.read(&mut buf), if readable => match read {
                    Ok(0) | Err(_) => ended = true,
                    Ok(n) => queue.push_back((link.due(), buf[..n].to_vec())),
                },
            }
        } else if ended {
            break;
        } else if let Some(p) = pipe.as_mut().filter(|_| link.is_plain()) {
            ended = !matches!(fill(p, &from).await, Ok(n) if n > 0);
            // The link may have been cut or delayed while the pump waited for these bytes:
            // they then wait like any other chunk.
            if !link.is_plain() && p.pending() > 0 {
                match p.take() {
                    Ok(chunk) => queue.push_back((link.due(), chunk)),
                    Err(_) => return,
                }
            }
        } else {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => ended = true,
                Ok(n) => queue.push_back((link.due(), buf[..n].to_vec())),
            }
        }
    }
    let _ = to.shutdown().await;
}

/// Splices what `from` has into the pipe, waiting until it has something. `Ok(0)`: the end.
///
/// Only an `EAGAIN` clears the socket's readiness. A splice that moved less than the pipe could
/// take does not prove the socket drained: the pipe holds one buffer per segment (16 by
/// default), so many small segments fill it with room to spare and data still queued. Taking
/// such a splice for a drained socket left that data waiting for an event that, once the
/// sender had nothing more to say, never came (a cluster replica stuck behind its primary
/// after a short cut).
async fn fill(pipe: &mut Pipe, from: &OwnedReadHalf) -> std::io::Result<usize> {
    let socket = from.as_ref();
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || pipe.fill_from(socket)) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// Splices everything in the pipe into `to`.
async fn drain(pipe: &mut Pipe, to: &OwnedWriteHalf) -> std::io::Result<()> {
    let socket = to.as_ref();
    while pipe.pending() > 0 {
        socket.writable().await?;
        match socket.try_io(Interest::WRITABLE, || pipe.drain_into(socket)) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    }
    Ok(())
}
