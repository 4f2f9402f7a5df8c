//! Where `redline check` reads a history from: a path (a file, a FIFO, `/dev/stdin`) or `-`
//! for standard input, read exactly once.
//!
//! The reading happens on a thread of its own and hands over chunks; a source that gives no
//! byte for the idle timeout (a FIFO nobody writes to, a stalled pipe) ends in an error naming
//! it, instead of a hang. Size bounds are the reader's ([`redline_checkers::history::input`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// Chunks in flight between the reading thread and the checker (a few MiB at most).
const CHUNKS_IN_FLIGHT: usize = 4;
const CHUNK: usize = 1 << 20;

/// A history source read on its own thread, with an idle timeout.
pub struct Source {
    name: String,
    chunks: Receiver<io::Result<Vec<u8>>>,
    current: io::Cursor<Vec<u8>>,
    idle: Duration,
}

impl Source {
    /// Opens `path` (`-` is standard input) on a reading thread.
    pub fn open(path: &Path, idle: Duration) -> io::Result<Source> {
        let (tx, rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
        let stdin = path == Path::new("-");
        let owned: PathBuf = path.to_path_buf();
        let name = if stdin {
            "standard input".to_string()
        } else {
            path.display().to_string()
        };
        std::thread::Builder::new()
            .name("history-reader".into())
            .spawn(move || {
                // Opening a FIFO blocks until a writer comes: it happens here, under the
                // timeout, not in the caller.
                let input: io::Result<Box<dyn Read>> = if stdin {
                    Ok(Box::new(io::stdin()))
                } else {
                    File::open(&owned).map(|f| Box::new(f) as Box<dyn Read>)
                };
                let mut input = match input {
                    Ok(i) => i,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let mut chunk = vec![0u8; CHUNK];
                    match input.read(&mut chunk) {
                        Ok(0) => return,
                        Ok(n) => {
                            chunk.truncate(n);
                            if tx.send(Ok(chunk)).is_err() {
                                return; // the checker stopped reading
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            })?;
        Ok(Source {
            name,
            chunks: rx,
            current: io::Cursor::new(Vec::new()),
            idle,
        })
    }

    /// How the source is named in messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            match self.chunks.recv_timeout(self.idle) {
                Ok(Ok(chunk)) => self.current = io::Cursor::new(chunk),
                Ok(Err(e)) => return Err(e),
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no data from {} for {} s (a FIFO or pipe nobody writes to?); \
                             --read-timeout sets how long to wait",
                            self.name,
                            self.idle.as_secs_f64()
                        ),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_a_file_to_its_end() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let text = "x".repeat(3 * CHUNK + 17);
        f.write_all(text.as_bytes()).unwrap();
        let mut s = Source::open(f.path(), Duration::from_secs(5)).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert_eq!(out.len(), text.len());
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let mut s = Source::open(
            Path::new("/nonexistent/history.jsonl"),
            Duration::from_secs(5),
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(s.read_to_end(&mut out).is_err());
    }
}
