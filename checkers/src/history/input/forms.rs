//! Cutting a byte stream of JSON-array or EDN text into top-level forms, counting lines so
//! that every record and every error names the line it starts on.

use super::super::edn::{self, Splitter, Step};
use super::ReadError;
use std::io::BufRead;

/// What [`Forms::next`] found.
pub(super) enum Next {
    /// A whole form and the line it starts on.
    Form(usize, String),
    /// The closing bracket of the top-level sequence.
    Close,
    /// The input ended inside a form that starts on this line.
    Truncated(usize),
    End,
}

/// Cuts a byte stream into forms, counting lines.
pub(super) struct Forms {
    pub(super) splitter: Splitter,
    pub(super) buf: Vec<u8>,
    /// The line the next unread byte is on.
    pub(super) line: usize,
    /// The line the buffered bytes start on.
    pub(super) form_line: usize,
}

impl Forms {
    /// Consumes an opening `[` or `(` of a top-level sequence, if the input starts with one.
    pub(super) fn open_sequence(&mut self, reader: &mut impl BufRead) -> Result<bool, ReadError> {
        loop {
            let chunk = reader.fill_buf()?;
            let Some(&b) = chunk.first() else {
                return Ok(false);
            };
            match b {
                b' ' | b'\t' | b'\r' | b',' => reader.consume(1),
                b'\n' => {
                    self.line += 1;
                    reader.consume(1);
                }
                b';' => {
                    let mut skipped = Vec::new();
                    reader.read_until(b'\n', &mut skipped)?;
                    self.line += usize::from(skipped.ends_with(b"\n"));
                }
                b'[' | b'(' => {
                    reader.consume(1);
                    return Ok(true);
                }
                _ => return Ok(false),
            }
        }
    }

    pub(super) fn next(
        &mut self,
        reader: &mut impl BufRead,
        max: usize,
    ) -> Result<Next, ReadError> {
        self.splitter.reset();
        self.buf.clear();
        self.form_line = self.line;
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                return self.at_end();
            }
            let step = self.splitter.feed(chunk);
            let (take, skip) = match step {
                Step::More => (chunk.len(), 0),
                Step::End(n) => (n, 0),
                Step::Close(n) => (n, 1),
            };
            if self.buf.len() + take > max || self.splitter.too_deep {
                return Err(self.too_long());
            }
            self.buf.extend_from_slice(&chunk[..take]);
            self.line += count_newlines(&chunk[..take + skip]);
            reader.consume(take + skip);
            match step {
                Step::More => {}
                Step::End(_) => return self.form(),
                Step::Close(_) => return Ok(Next::Close),
            }
        }
    }

    fn too_long(&self) -> ReadError {
        if self.splitter.too_deep {
            ReadError::Record {
                line: self.start_line(),
                reason: format!("record nested more than {} levels", edn::MAX_DEPTH),
            }
        } else {
            ReadError::RecordTooLong {
                line: self.start_line(),
            }
        }
    }

    /// The line the form starts on: the buffer's first line plus the blank lines and comments
    /// before the form.
    fn start_line(&self) -> usize {
        self.form_line + self.splitter.lead_newlines
    }

    fn form(&mut self) -> Result<Next, ReadError> {
        let line = self.start_line();
        let text =
            String::from_utf8(std::mem::take(&mut self.buf)).map_err(|e| ReadError::Record {
                line,
                reason: format!("not UTF-8 text: {e}"),
            })?;
        Ok(Next::Form(line, text))
    }

    fn at_end(&mut self) -> Result<Next, ReadError> {
        Ok(if self.splitter.complete_at_eof() {
            self.form()?
        } else if self.splitter.started() && self.line == self.start_line() {
            // Cut short on its own last line: the run stopped while writing it.
            Next::Truncated(self.start_line())
        } else if self.splitter.started() {
            // Anything longer (an unclosed string or bracket swallowing the records after
            // it) would silently drop data: an error.
            return Err(ReadError::Record {
                line: self.start_line(),
                reason: "record not closed by the end of the input (an unclosed string or \
                         bracket?)"
                    .into(),
            });
        } else {
            Next::End
        })
    }
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}
