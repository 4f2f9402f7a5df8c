//! Appending a history while a run goes: each record is one line, flushed as soon as it is
//! written, so a crash or an interrupt leaves every completed line on disk. Over a file, each
//! line reaches the OS as it is appended; the live recorder appends into a buffer instead and
//! hands whole batches of lines to the OS from a writer thread of its own.

use super::Op;
use std::io::{self, Write};

/// Writes records as JSON lines and assigns their dense `index`.
pub struct HistoryWriter<W: Write> {
    out: W,
    next_index: u64,
    line: Vec<u8>,
}

impl<W: Write> HistoryWriter<W> {
    pub fn new(out: W) -> Self {
        HistoryWriter {
            out,
            next_index: 0,
            line: Vec::with_capacity(256),
        }
    }

    /// Sets `op.index` to the next index, writes the line and flushes it. Returns the index.
    pub fn append(&mut self, op: &mut Op) -> io::Result<u64> {
        op.index = self.next_index;
        self.line.clear();
        serde_json::to_writer(&mut self.line, op).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.flush()?;
        self.next_index += 1;
        Ok(op.index)
    }

    /// How many records were written.
    pub fn len(&self) -> u64 {
        self.next_index
    }

    pub fn is_empty(&self) -> bool {
        self.next_index == 0
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// The output the lines go to (for a buffer, to take the lines written so far).
    pub fn output_mut(&mut self) -> &mut W {
        &mut self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{jsonl, OpType, Process};

    #[test]
    fn written_lines_read_back() {
        let mut w = HistoryWriter::new(Vec::new());
        let mut a = Op::new(99, 5, Process::Client(0), OpType::Invoke, "add");
        a.value = serde_json::json!(1);
        let mut b = Op::new(99, 6, Process::Client(0), OpType::Ok, "add");
        b.value = serde_json::json!(1);
        assert_eq!(w.append(&mut a).unwrap(), 0);
        assert_eq!(w.append(&mut b).unwrap(), 1);
        let text = String::from_utf8(w.into_inner()).unwrap();
        let read = jsonl::read_str(&text).unwrap();
        assert_eq!(read.history.ops(), &[a, b]);
    }
}
