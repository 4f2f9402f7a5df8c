//! Reading a history in any of the formats the field writes, detected from its content, one
//! record at a time and within bounds.
//!
//! - JSON lines (redline's `history.jsonl`, elle-cli's and Elle's JSON);
//! - a JSON array of records (elle-cli's `.json` histories);
//! - EDN: Jepsen's `history.edn` (one map per line) or one vector of maps (Knossos's and Elle's
//!   test histories), with comments;
//! - any of these compressed with gzip.
//!
//! The format is decided from the first bytes: gzip's magic number, then the first record's
//! first key (`{"` is JSON, `{:` is EDN). Every record is handed to the caller as an [`Op`] as
//! soon as it is read, so a history of any size streams; an error names the line its record
//! starts on. A record cut short at the very end of the input (a run that crashed while writing
//! it) is dropped with a warning; anywhere else it is an error.
//!
//! Bounds: no record may be longer than [`Limits::max_record_bytes`], and no input longer than
//! [`Limits::max_input_bytes`] once decompressed, so `/dev/zero` or a gzip bomb ends in a clear
//! error instead of exhausting the memory. Time bounds are the caller's (this crate has no
//! clock).
//!
//! Memory: a run's tens of millions of records name far fewer keys, a handful of nodes and a
//! few distinct errors. Each text is held once and shared by every record that names it
//! ([`Shared`]), rather than allocated per record. Arrays (a set read's elements) are parsed
//! into vectors that grew by doubling; each is cut to its length ([`fit`]).

mod forms;

use super::edn::{self, Splitter};
use super::record;
use super::shared::Shared;
use super::{HistoryError, Op};
use forms::{Forms, Next};
use rayon::prelude::*;
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Read};

/// Size bounds on an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest record (a JSON line, an EDN form), in bytes.
    pub max_record_bytes: usize,
    /// The most bytes read, after decompression.
    pub max_input_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 64 << 20,
            max_input_bytes: 16 << 30,
        }
    }
}

/// A history's text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of objects.
    JsonArray,
    /// EDN maps, one per line or in one vector.
    Edn,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::JsonArray => "json-array",
            Format::Edn => "edn",
        }
    }
}

/// What was read, besides the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadInfo {
    pub format: Format,
    pub gzip: bool,
    /// How many records were handed over.
    pub records: usize,
    /// What was tolerated (a record cut short at the end).
    pub warnings: Vec<String>,
}

/// Bytes looked at to decide the format.
const PEEK: usize = 64 << 10;

/// Reads records from `input` and hands each to `on_op`, in input order (see the module doc).
pub fn read_each<'a>(
    input: impl Read + 'a,
    limits: Limits,
    mut on_op: impl FnMut(Op),
) -> Result<ReadInfo, HistoryError> {
    let fail = |e: ReadError| e.into_history_error(limits);
    let (input, gzip) = decompressed(input).map_err(|e| fail(e.into()))?;
    let mut limited = Limited {
        inner: input,
        left: limits.max_input_bytes,
    };
    let mut head = Vec::with_capacity(PEEK);
    (&mut limited)
        .take(PEEK as u64)
        .read_to_end(&mut head)
        .map_err(|e| fail(e.into()))?;
    let format = detect(&head);
    let mut reader = BufReader::with_capacity(1 << 20, io::Cursor::new(head).chain(limited));
    let mut records = 0usize;
    let mut shared = Shared::default();
    let mut emit = |mut op: Op| {
        records += 1;
        shared.share(&mut op.key);
        shared.share(&mut op.node);
        shared.share(&mut op.error);
        fit(&mut op.value);
        on_op(op);
    };
    let warnings = match format {
        Format::Jsonl => read_lines(&mut reader, limits, &mut emit),
        Format::JsonArray | Format::Edn => read_forms(&mut reader, format, limits, &mut emit),
    }
    .map_err(fail)?;
    Ok(ReadInfo {
        format,
        gzip,
        records,
        warnings,
    })
}

/// Releases the spare capacity of every array in `value` (see the module doc).
fn fit(value: &mut Value) {
    match value {
        Value::Array(items) => {
            items.shrink_to_fit();
            items.iter_mut().for_each(fit);
        }
        Value::Object(map) => map.values_mut().for_each(fit),
        _ => {}
    }
}

/// The input, decompressed when it starts with gzip's magic number.
fn decompressed<'a>(mut input: impl Read + 'a) -> io::Result<(Box<dyn Read + 'a>, bool)> {
    let mut magic = Vec::with_capacity(2);
    (&mut input).take(2).read_to_end(&mut magic)?;
    let gzip = magic == [0x1f, 0x8b];
    let whole = io::Cursor::new(magic).chain(input);
    Ok(if gzip {
        (Box::new(flate2::read::MultiGzDecoder::new(whole)), true)
    } else {
        (Box::new(whole), false)
    })
}

/// Decides the format from the first bytes (see the module doc).
pub fn detect(head: &[u8]) -> Format {
    let rest = skip_blank(head, true);
    match rest.first() {
        Some(b'{') => map_style(&rest[1..]).unwrap_or(Format::Jsonl),
        Some(b'[') => {
            let inner = skip_blank(&rest[1..], false);
            match inner.first() {
                Some(b'{') => match map_style(&inner[1..]) {
                    Some(Format::Edn) => Format::Edn,
                    _ => Format::JsonArray,
                },
                None | Some(b']') | Some(b'"') => Format::JsonArray,
                _ => Format::Edn,
            }
        }
        Some(b'(') | Some(b'#') => Format::Edn,
        _ => Format::Jsonl,
    }
}

/// After a record's `{`: JSON when its first key is a string followed by `:`, EDN when it is a
/// keyword or a string followed by a value; `None` when the bytes do not tell.
fn map_style(after_brace: &[u8]) -> Option<Format> {
    let rest = skip_blank(after_brace, false);
    match rest.first()? {
        b'}' => None,
        b'"' => {
            let mut escaped = false;
            let end = rest[1..].iter().position(|&b| {
                let quote = b == b'"' && !escaped;
                escaped = b == b'\\' && !escaped;
                quote
            })?;
            match skip_blank(&rest[end + 2..], false).first()? {
                b':' => Some(Format::Jsonl),
                _ => Some(Format::Edn),
            }
        }
        _ => Some(Format::Edn),
    }
}

/// Skips whitespace and commas, and `;` comments when `comments` (EDN may start with them).
fn skip_blank(mut bytes: &[u8], comments: bool) -> &[u8] {
    loop {
        match bytes.first() {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b',') => bytes = &bytes[1..],
            Some(b';') if comments => {
                let end = bytes
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(bytes.len());
                bytes = &bytes[end..];
            }
            _ => return bytes,
        }
    }
}

/// Why reading stopped.
#[derive(Debug)]
enum ReadError {
    Io(io::Error),
    /// The input passed `max_input_bytes`.
    InputTooLarge,
    /// A record starting at this line passed `max_record_bytes`.
    RecordTooLong {
        line: usize,
    },
    /// A record (starting at this line) that is not a record.
    Record {
        line: usize,
        reason: String,
    },
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<LimitReached>()) {
            ReadError::InputTooLarge
        } else {
            ReadError::Io(e)
        }
    }
}

impl ReadError {
    fn into_history_error(self, limits: Limits) -> HistoryError {
        match self {
            ReadError::Io(e) => HistoryError::Io(e),
            ReadError::InputTooLarge => HistoryError::TooLarge(format!(
                "the input is larger than {} bytes (after decompression); a history this \
                 large is not one redline can check",
                limits.max_input_bytes
            )),
            ReadError::RecordTooLong { line } => HistoryError::Line {
                line,
                reason: format!(
                    "record longer than {} bytes (is this a history? a JSON line or EDN \
                     record of that size is not one)",
                    limits.max_record_bytes
                ),
            },
            ReadError::Record { line, reason } => HistoryError::Line { line, reason },
        }
    }
}

/// The marker of a [`Limited`] reader's limit.
#[derive(Debug)]
struct LimitReached;

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("input size limit reached")
    }
}

impl std::error::Error for LimitReached {}

/// A reader that fails once more than its limit was read.
struct Limited<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One more byte tells a file of exactly the limit from a larger one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(LimitReached)),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// JSON lines: one record per line; blank lines and CR line ends are fine.
fn read_lines(
    reader: &mut impl BufRead,
    limits: Limits,
    emit: &mut dyn FnMut(Op),
) -> Result<Vec<String>, ReadError> {
    let mut batch = Batch::default();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let parse = |text: &str, position: usize| {
        record::from_json_text(text, position).map_err(|e| Failure {
            eof: e.is_eof(),
            reason: e.to_string(),
        })
    };
    loop {
        buf.clear();
        let ended = match read_line(reader, &mut buf, limits.max_record_bytes) {
            Ok(Some(ended)) => ended,
            Ok(None) => break,
            Err(ReadError::RecordTooLong { .. }) => {
                return Err(ReadError::RecordTooLong { line: line_no + 1 })
            }
            Err(e) => return Err(e),
        };
        line_no += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| ReadError::Record {
            line: line_no,
            reason: format!("not UTF-8 text: {e}"),
        })?;
        let text = text.trim();
        if !text.is_empty() && batch.push(line_no, text.to_string(), !ended) {
            batch.flush(&parse, emit)?;
        }
    }
    batch.flush(&parse, emit)?;
    Ok(batch.warnings)
}

/// Why one record did not parse; `eof` when its text ended too soon.
struct Failure {
    reason: String,
    eof: bool,
}

/// One record's text waiting to be parsed.
struct Pending {
    line: usize,
    position: usize,
    text: String,
    /// The input's last line, with no line end after it: a run may have stopped mid-record.
    unterminated: bool,
}

/// Records read but not parsed yet, handed over in input order. EDN is parsed in parallel
/// (its parse costs several times JSON's); JSON in line, where waiting for the pool's
/// threads on a busy machine would cost more than it saves.
#[derive(Default)]
struct Batch {
    parallel: bool,
    items: Vec<Pending>,
    bytes: usize,
    /// Records queued so far: the next one's position.
    position: usize,
    warnings: Vec<String>,
}

const BATCH_RECORDS: usize = 8192;
const BATCH_BYTES: usize = 16 << 20;

impl Batch {
    /// Queues a record; true when the batch should be flushed.
    fn push(&mut self, line: usize, text: String, unterminated: bool) -> bool {
        self.bytes += text.len();
        self.items.push(Pending {
            line,
            position: self.position,
            text,
            unterminated,
        });
        self.position += 1;
        self.items.len() >= BATCH_RECORDS || self.bytes >= BATCH_BYTES
    }

    /// Parses the queued records and hands them over; the first failure in input order is
    /// the error (or, on an unterminated last line cut short, a warning).
    fn flush(
        &mut self,
        parse: &(dyn Fn(&str, usize) -> Result<Op, Failure> + Sync),
        emit: &mut dyn FnMut(Op),
    ) -> Result<(), ReadError> {
        let items = std::mem::take(&mut self.items);
        self.bytes = 0;
        let one = |p: &Pending| parse(&p.text, p.position);
        let parsed: Vec<Result<Op, Failure>> = if self.parallel {
            items.par_iter().map(one).collect()
        } else {
            items.iter().map(one).collect()
        };
        for (p, result) in items.iter().zip(parsed) {
            match result {
                Ok(op) => emit(op),
                Err(f) if p.unterminated && f.eof => self.warnings.push(truncated(p.line)),
                Err(f) => {
                    return Err(ReadError::Record {
                        line: p.line,
                        reason: f.reason,
                    })
                }
            }
        }
        Ok(())
    }
}

fn truncated(line: usize) -> String {
    format!(
        "line {line}: truncated final record ignored (the run was probably interrupted while \
         writing it)"
    )
}

/// Reads one line into `buf` (without its `\n`), failing past `max` bytes. `None` at the end
/// of the input; otherwise whether the line ended with a newline.
fn read_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<Option<bool>, ReadError> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok((!buf.is_empty()).then_some(false));
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > max {
            return Err(ReadError::RecordTooLong { line: 0 });
        }
        buf.extend_from_slice(&chunk[..take]);
        reader.consume(take + usize::from(done));
        if done {
            return Ok(Some(true));
        }
    }
}

/// JSON arrays and EDN: top-level forms, possibly inside one top-level vector or list.
fn read_forms(
    reader: &mut impl BufRead,
    format: Format,
    limits: Limits,
    emit: &mut dyn FnMut(Op),
) -> Result<Vec<String>, ReadError> {
    let mut forms = Forms {
        splitter: Splitter::default(),
        buf: Vec::new(),
        line: 1,
        form_line: 1,
    };
    let in_sequence = forms.open_sequence(reader)?;
    let mut closed = !in_sequence;
    let mut batch = Batch {
        parallel: format == Format::Edn,
        ..Batch::default()
    };
    let parse = |text: &str, position: usize| {
        let parsed = match format {
            Format::Edn => edn::parse_record(text, position).map_err(|e| e.0),
            // The commas between array elements precede each element's text.
            _ => record::from_json_text(
                text.trim_start_matches([',', ' ', '\t', '\r', '\n']),
                position,
            )
            .map_err(|e| e.to_string()),
        };
        parsed.map_err(|reason| Failure { reason, eof: false })
    };
    let mut truncated_at = None;
    loop {
        match forms.next(reader, limits.max_record_bytes)? {
            Next::Form(line, text) => {
                if batch.push(line, text, false) {
                    batch.flush(&parse, emit)?;
                }
            }
            Next::Close => closed = true,
            Next::Truncated(line) => {
                truncated_at = Some(line);
                break;
            }
            Next::End => break,
        }
    }
    batch.flush(&parse, emit)?;
    let mut warnings = batch.warnings;
    warnings.extend(truncated_at.map(truncated));
    if !closed && warnings.is_empty() {
        warnings.push(
            "the history's closing bracket is missing (the file was probably cut short)".into(),
        );
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests;
