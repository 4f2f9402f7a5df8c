//! The live history: every operation is appended to `history.jsonl` and flushed the moment it
//! happens, with its time taken under the same lock that assigns its index, so indices and
//! times ascend together and a crash leaves every completed line on disk.

use redline_checkers::history::writer::HistoryWriter;
use redline_checkers::Op;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A cheaply cloned handle to one history file.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<HistoryWriter<BufWriter<File>>>>,
    start: Instant,
    failed: Arc<AtomicBool>,
}

impl Recorder {
    /// Creates (truncates) the file; `start` is time zero of the run.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        let file = File::create(path)?;
        Ok(Recorder {
            inner: Arc::new(Mutex::new(HistoryWriter::new(BufWriter::new(file)))),
            start,
            failed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Stamps `op` with the next index and the current time, appends it, and returns it.
    /// A write error is remembered (see [`Recorder::failed`]) rather than stopping the run.
    pub fn record(&self, mut op: Op) -> Op {
        let mut writer = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        op.time = self.start.elapsed().as_nanos() as u64;
        if let Err(e) = writer.append(&mut op) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::error!("writing the history failed: {e}; the history is incomplete");
            }
        }
        op
    }

    /// Nanoseconds since time zero: the clock records are stamped with.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Whether any write to the file failed.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}
