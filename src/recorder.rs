//! The live history: every operation is stamped with its index and time, encoded as one JSON
//! line and appended to `history.jsonl` (or `telemetry.jsonl`) while the run goes.
//!
//! **How lines reach the file.** Stamping and encoding happen in the caller, under one lock,
//! so indices and times ascend together and the lines queue up in index order. A writer thread
//! of the recorder hands everything queued to the OS in one write(2) and starts again: under
//! load one system call carries the lines of many operations (group commit), where one write
//! and one flush per line used to cost a system call per line, under the lock every client
//! takes.
//!
//! **What durable means here.** redline guarantees that a crash of redline itself (a panic,
//! SIGKILL, the OOM killer) loses no line anything was acted upon:
//! - the file is always a prefix of the history: one writer writes the lines in index order,
//!   so there is never a gap, only a tail not yet written;
//! - a client waits until its invocation line is written ([`Recorder::written`]) before it
//!   sends the operation's command. Every line before it is written by then, among them the
//!   completion of the process's previous operation. So the history of a crashed run holds
//!   every operation that could have reached a server and every completion a process acted
//!   upon; what it can lose is the completions of operations still in flight, which stay open
//!   (`info`): unknown, which is what they are;
//! - every other record ([`Recorder::record`]: the nemesis, observers, final reads) returns
//!   only once its line is written, as before: a fault is in the file before it is applied.
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
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::watch;

/// A cheaply cloned handle to one history file. The file is written to the end and closed
/// when the last handle is dropped.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

/// What the handles share; dropping it closes the file.
struct Inner {
    shared: Arc<Shared>,
    start: Instant,
    /// Async waiters' view of [`Shared::written`]; the sender is the writer thread's.
    written: watch::Receiver<u64>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// The state the handles and the writer thread share.
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the writer (lines queued, or closing).
    work: Condvar,
    /// Wakes synchronous waiters (lines written).
    done: Condvar,
    /// How many lines are written (lines `0..written` are in the OS).
    written: AtomicU64,
    failed: AtomicBool,
}

/// Lines encoded and not yet handed to the writer.
struct Queue {
    /// Encodes and indexes the lines into its buffer.
    lines: HistoryWriter<Vec<u8>>,
    /// The writer is waiting for lines.
    writer_idle: bool,
    closing: bool,
}

impl Recorder {
    /// Creates (truncates) the file and starts its writer thread; `start` is time zero of the
    /// run.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        let file = File::create(path)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                lines: HistoryWriter::new(Vec::with_capacity(64 * 1024)),
                writer_idle: false,
                closing: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            written: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        });
        let (tx, rx) = watch::channel(0);
        let name = format!(
            "history writer ({})",
            path.file_name()
                .map_or_else(|| "?".into(), |n| n.to_string_lossy().into_owned())
        );
        let thread_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name(name)
            .spawn(move || write_lines(file, &thread_shared, &tx))?;
        Ok(Recorder {
            inner: Arc::new(Inner {
                shared,
                start,
                written: rx,
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// Stamps `op` with the next index and the current time, appends it, and returns it once
    /// its line is written to the OS (see the module doc).
    pub fn record(&self, op: Op) -> Op {
        let op = self.enqueue(op);
        let shared = &self.inner.shared;
        let mut queue = shared.lock();
        while shared.written.load(Ordering::Acquire) <= op.index && !queue.closing {
            queue = shared.done.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
        op
    }

    /// Stamps `op` with the next index and the current time and queues its line for the
    /// writer, without waiting: the client loop's way, which then awaits
    /// [`Recorder::written`] before acting on the op.
    pub fn enqueue(&self, mut op: Op) -> Op {
        let shared = &self.inner.shared;
        let mut queue = shared.lock();
        op.time = self.inner.start.elapsed().as_nanos() as u64;
        if let Err(e) = queue.lines.append(&mut op) {
            // Encoding an Op cannot fail short of a bug; the index is kept dense regardless.
            shared.fail(&format!("encoding op {}: {e}", op.index));
        }
        if queue.writer_idle {
            queue.writer_idle = false;
            shared.work.notify_one();
        }
        op
    }

    /// Waits until the line of index `index` (and every line before it) is written to the OS.
    /// Returns at once if it is; if the writer is gone, returns (its failure is recorded).
    pub async fn written(&self, index: u64) {
        if self.inner.shared.written.load(Ordering::Acquire) > index {
            return;
        }
        let mut rx = self.inner.written.clone();
        let _ = rx.wait_for(|&n| n > index).await;
    }

    /// Whether any write to the file failed. Waits for every line recorded so far to be
    /// written first, so a failure of the last lines is seen too.
    pub fn failed(&self) -> bool {
        let shared = &self.inner.shared;
        let mut queue = shared.lock();
        let recorded = queue.lines.len();
        while shared.written.load(Ordering::Acquire) < recorded && !queue.closing {
            queue = shared.done.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
        shared.failed.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, why: &str) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            tracing::error!("writing the history failed: {why}; the history is incomplete");
        }
    }
}

impl Drop for Inner {
    /// Closing: the writer writes what is queued, fsyncs, and ends.
    fn drop(&mut self) {
        {
            let mut queue = self.shared.lock();
            queue.closing = true;
            self.shared.work.notify_one();
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            if writer.join().is_err() {
                self.shared.fail("the writer thread panicked");
            }
        }
    }
}

/// The writer thread: takes every queued line, writes them with one call, publishes how many
/// lines are written, until the recorder closes.
fn write_lines(mut file: File, shared: &Shared, written: &watch::Sender<u64>) {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let (count, closing) = {
            let mut queue = shared.lock();
            while queue.lines.len() == shared.written.load(Ordering::Acquire) && !queue.closing {
                queue.writer_idle = true;
                queue = shared.work.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
            queue.writer_idle = false;
            std::mem::swap(queue.lines.output_mut(), &mut batch);
            (queue.lines.len(), queue.closing)
        };
        if !batch.is_empty() {
            if let Err(e) = file.write_all(&batch) {
                shared.fail(&e.to_string());
            }
            batch.clear();
        }
        {
            // Under the lock, so a synchronous waiter cannot miss the notification.
            let _queue = shared.lock();
            shared.written.store(count, Ordering::Release);
            shared.done.notify_all();
        }
        written.send_replace(count);
        if closing && shared.lock().lines.len() == count {
            if let Err(e) = file.sync_all() {
                shared.fail(&format!("fsync: {e}"));
            }
            return;
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
        op.node = Some(format!("n{node}"));
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
