//! The live history: every operation is stamped with its index and time, encoded as one JSON
//! line and appended to `history.jsonl` (or `telemetry.jsonl`) while the run goes.
//!
//! **How lines reach the file.** Stamping and encoding happen in the caller, under one lock,
//! so indices and times ascend together and the lines queue up in index order. A caller that
//! queues a line and finds no write under way writes everything queued itself, in one
//! write(2); one that finds a write under way leaves its line to that writer, which goes on
//! writing until the queue is empty before it stops (group commit, "flat combining"). Under
//! load one system call carries the lines of many operations, where one write and one flush
//! per line used to cost a system call per line under the lock every client takes; and no
//! line ever waits in the queue for a later caller to come along.
//!
//! The writing is done by the callers themselves, not by a writer thread: the profile of a
//! writer thread showed most of its time in waking and being woken (a futex each way, and
//! unparking a runtime worker per batch) rather than in write(2). A write of a batch to the
//! page cache takes microseconds, so a runtime worker may do it in place. A writer's turn
//! ends: each round writes everything queued so far, so a further round happens only when a
//! line arrives during the microseconds of the previous write.
//!
//! **What durable means here.** redline guarantees that a crash of redline itself (a panic,
//! SIGKILL, the OOM killer) loses no line anything was acted upon:
//! - the file is always a prefix of the history: one write at a time, of the lines in index
//!   order, so there is never a gap, only a tail not yet written;
//! - a client waits until its invocation line is written ([`Recorder::written`]) before it
//!   sends the operation's command. Every line before it is written by then, among them the
//!   completion of the process's previous operation. So the history of a crashed run holds
//!   every operation that could have reached a server and every completion a process acted
//!   upon. What it can lose is only what was being recorded or written at the moment of the
//!   crash (no line waits in the queue for someone else: see above); a completion lost that
//!   way leaves its op open (`info`): unknown, which is what it is to anyone who did not act
//!   on it;
//! - every other record ([`Recorder::record`]: the nemesis, observers, final reads) returns
//!   only once its line (and every line before it) is written: a fault is in the file before
//!   it is applied, and the run never moves on to healing with lines still queued.
//!
//! "Written" means write(2) returned: the line is in the kernel's page cache, which a crash of
//! redline does not lose. A crash of the machine (power loss) can lose what the kernel had not
//! yet put on disk; redline does not fsync per line (it would bound the run by the disk's
//! flush rate), but the file is fsynced once when the recorder closes, so a finished run's
//! history survives a machine crash too.
//!
//! A write error is remembered ([`Recorder::failed`]), its lines are dropped and the run goes
//! on; the runner then counts the history as incomplete.

use redline_checkers::history::writer::HistoryWriter;
use redline_checkers::Op;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::Notify;

/// A cheaply cloned handle to one history file. The file is written to the end, fsynced and
/// closed when the last handle is dropped.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

/// What the handles share.
struct Inner {
    queue: Mutex<Queue>,
    /// The file; held only by the one caller writing a batch.
    file: Mutex<File>,
    start: Instant,
    /// How many lines are written (lines `0..written` are in the OS).
    written: AtomicU64,
    /// Wakes synchronous waiters when a batch is written.
    written_sync: Condvar,
    /// Wakes asynchronous waiters when a batch is written.
    written_async: Notify,
    failed: AtomicBool,
}

/// Lines encoded and not yet written.
struct Queue {
    /// Encodes and indexes the lines into its buffer.
    lines: HistoryWriter<Vec<u8>>,
    /// A caller is writing a batch.
    writing: bool,
    /// Callers blocked on `written_sync`. It is notified only when there are any: a futex
    /// wake per batch would be a system call per operation at full speed.
    sync_waiters: usize,
    /// The buffer of the last batch, kept for its capacity.
    spare: Vec<u8>,
}

impl Recorder {
    /// Creates (truncates) the file; `start` is time zero of the run.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        let file = File::create(path)?;
        Ok(Recorder {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue {
                    lines: HistoryWriter::new(Vec::with_capacity(64 * 1024)),
                    writing: false,
                    sync_waiters: 0,
                    spare: Vec::with_capacity(64 * 1024),
                }),
                file: Mutex::new(file),
                start,
                written: AtomicU64::new(0),
                written_sync: Condvar::new(),
                written_async: Notify::new(),
                failed: AtomicBool::new(false),
            }),
        })
    }

    /// Stamps `op` with the next index and the current time, appends it, and returns it once
    /// its line is written to the OS (see the module doc).
    pub fn record(&self, op: Op) -> Op {
        let op = self.enqueue(op);
        self.inner.write_through(op.index + 1);
        op
    }

    /// Stamps `op` with the next index and the current time and queues its line; writes the
    /// queue if no write is under way, and otherwise returns at once, the write under way
    /// taking the line too: the client loop's way, which awaits [`Recorder::written`] before
    /// acting on an invocation and does not wait for its completions.
    pub fn enqueue(&self, mut op: Op) -> Op {
        let inner = &self.inner;
        let mut queue = inner.lock();
        op.time = inner.start.elapsed().as_nanos() as u64;
        if let Err(e) = queue.lines.append(&mut op) {
            // Encoding an Op cannot fail short of a bug; the index is kept dense regardless.
            inner.fail(&format!("encoding op {}: {e}", op.index));
        }
        if !queue.writing {
            inner.write_batch(queue);
        }
        op
    }

    /// Nanoseconds since time zero: the clock records are stamped with.
    pub fn now_ns(&self) -> u64 {
        self.inner.start.elapsed().as_nanos() as u64
    }

    /// Returns once the line of index `index` (and every line before it) is written to the
    /// OS, writing the queued lines itself if no one else is.
    pub async fn written(&self, index: u64) {
        let inner = &self.inner;
        loop {
            if inner.written.load(Ordering::Acquire) > index {
                return;
            }
            // Registered before looking, so a batch finished meanwhile is not missed.
            let finished = inner.written_async.notified();
            {
                let queue = inner.lock();
                if inner.written.load(Ordering::Acquire) > index {
                    return;
                }
                if !queue.writing {
                    inner.write_batch(queue);
                    continue;
                }
            }
            finished.await;
        }
    }

    /// Whether any write to the file failed. Writes every line recorded so far first, so a
    /// failure of the last lines is seen too.
    pub fn failed(&self) -> bool {
        let recorded = self.inner.lock().lines.len();
        self.inner.write_through(recorded);
        self.inner.failed.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, why: &str) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            tracing::error!("writing the history failed: {why}; the history is incomplete");
        }
    }

    /// Blocks until the first `count` lines are written, writing them if no one else is.
    fn write_through(&self, count: u64) {
        let mut queue = self.lock();
        while self.written.load(Ordering::Acquire) < count {
            if queue.writing {
                queue.sync_waiters += 1;
                queue = self
                    .written_sync
                    .wait(queue)
                    .unwrap_or_else(|p| p.into_inner());
                queue.sync_waiters -= 1;
            } else {
                self.write_batch(queue);
                queue = self.lock();
            }
        }
    }

    /// Writes the queued lines, one call per round, outside the queue's lock (appending goes
    /// on meanwhile), publishing after each round how many lines are written and waking every
    /// waiter; rounds go on until a round finds the queue empty, so a line queued during a
    /// write is written by this writer (see the module doc for why the turn ends).
    fn write_batch<'a>(&'a self, mut queue: MutexGuard<'a, Queue>) {
        queue.writing = true;
        while self.written.load(Ordering::Acquire) < queue.lines.len() {
            let mut batch = std::mem::take(&mut queue.spare);
            std::mem::swap(queue.lines.output_mut(), &mut batch);
            let count = queue.lines.len();
            drop(queue);
            if !batch.is_empty() {
                let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = file.write_all(&batch) {
                    self.fail(&e.to_string());
                }
            }
            batch.clear();
            queue = self.lock();
            queue.spare = batch;
            self.written.store(count, Ordering::Release);
            if queue.sync_waiters > 0 {
                self.written_sync.notify_all();
            }
            self.written_async.notify_waiters();
        }
        queue.writing = false;
    }
}

impl Drop for Inner {
    /// Closing: what is still queued is written, and the file fsynced.
    fn drop(&mut self) {
        let recorded = self.lock().lines.len();
        self.write_through(recorded);
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.sync_all() {
            self.fail(&format!("fsync: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_checkers::history::jsonl;
    use redline_checkers::{OpType, Process};

    /// An observer record: it needs no completion, so any number of them read back.
    fn op(node: u64) -> Op {
        let mut op = Op::new(0, 0, Process::Observer, OpType::Info, "replication");
        op.node = Some(format!("n{node}").into());
        op
    }

    /// A recorded line is in the file when `record` returns; an enqueued one once `written`
    /// does; indices are dense and the file reads back whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lines_are_in_the_file_when_record_or_written_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let recorder = Recorder::create(&path, Instant::now()).unwrap();
        let first = recorder.record(op(0));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        let mut tasks = Vec::new();
        for p in 0..8 {
            let (r, path) = (recorder.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..500 {
                    let queued = r.enqueue(op(p));
                    r.written(queued.index).await;
                    if i % 100 == 0 {
                        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                        assert!(lines as u64 > queued.index, "{lines} <= {}", queued.index);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let last = recorder.enqueue(op(9));
        recorder.written(last.index).await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count() as u64, last.index + 1);
        assert_eq!(first.index, 0);
        assert!(!recorder.failed());
        drop(recorder);
        let read = jsonl::read_file(&path).unwrap();
        let ops = read.history.ops();
        assert!(ops.iter().enumerate().all(|(i, o)| o.index == i as u64));
        assert!(ops.windows(2).all(|w| w[0].time <= w[1].time));
    }

    /// A line nobody waits for is in the file once every caller has returned: each is
    /// written by whoever queued it or by the write under way, never left for a later caller.
    #[test]
    fn no_line_waits_for_a_later_caller() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let recorder = Recorder::create(&path, Instant::now()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|p| {
                let r = recorder.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        r.enqueue(op(p));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 8000);
        drop(recorder);
    }

    /// Dropping the last handle writes everything queued.
    #[test]
    fn closing_writes_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let recorder = Recorder::create(&path, Instant::now()).unwrap();
        for p in 0..1000 {
            recorder.enqueue(op(p));
        }
        drop(recorder);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1000);
    }
}
