//! EDN (Jepsen's `history.edn`, Knossos's and Elle's test histories) as JSON values.
//!
//! Parsing is the `clojure-reader` crate's; this module only finds where each record (one
//! top-level form) begins and ends in a byte stream, so a history of any length is read one
//! record at a time, and turns a parsed form into the JSON value the rest of the reader
//! understands:
//!
//! - keywords and symbols become strings without their colon (`:ok` -> `"ok"`, `:x` -> `"x"`);
//! - `nil` is `null`; vectors, lists and sets are arrays (a set in its sorted order);
//! - maps are objects, their keys as strings (a keyword key loses its colon);
//! - a tagged value (`#jepsen.history.Op{...}`, `#inst "..."`) is its value;
//! - characters are one-character strings, rationals and doubles numbers.
//!
//! The splitter understands strings, escapes, character literals, comments and `#{` sets; it
//! bounds how deep a record may nest and how long it may be, so hostile input cannot exhaust
//! the stack or the memory.

mod fast;
#[cfg(test)]
mod fast_tests;

use super::record::ANONYMOUS_PROCESS;
use super::{Function, Op, OpType, Process, MISSING_TIME};
use clojure_reader::edn::Edn;
use serde_json::{Map, Number, Value};

/// How deep a record may nest (a history record is a map of a few levels).
pub const MAX_DEPTH: usize = 64;

/// Why a form could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnError(pub String);

impl std::fmt::Display for EdnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses one EDN form into a JSON value.
pub fn parse(text: &str) -> Result<Value, EdnError> {
    to_json(&read_one(text)?, 0)
}

/// Parses one EDN form, refusing text after it.
fn read_one(text: &str) -> Result<Edn<'_>, EdnError> {
    let (edn, rest) = clojure_reader::edn::read(text).map_err(|e| EdnError(describe(&e)))?;
    if !rest
        .trim_matches(|c: char| c.is_whitespace() || c == ',')
        .is_empty()
    {
        return Err(EdnError(format!(
            "unexpected text after the record: {:?}",
            rest.chars().take(40).collect::<String>()
        )));
    }
    Ok(edn)
}

/// Parses one EDN record into an [`Op`] (the record's position stands in for a missing
/// index). A map's fields are read straight into the op, normalised as
/// [`super::record::from_value`] does a JSON record; anything else goes through JSON.
///
/// Records in the common shape are read by [`fast`] first; anything else, and every error, is
/// the full parser's.
pub fn parse_record(text: &str, position: usize) -> Result<Op, EdnError> {
    if let Some(op) = fast::record_fields(text).and_then(|f| op_from_fields(f, position)) {
        return Ok(op);
    }
    parse_record_fully(text, position)
}

/// A new op at `position`, before its fields are read.
fn blank_op(position: usize) -> Op {
    Op::new(
        position as u64,
        MISSING_TIME,
        Process::Client(ANONYMOUS_PROCESS),
        OpType::Invoke,
        Function::default(),
    )
}

/// The op of a record read by [`fast`], field by field as [`parse_record_fully`] reads an EDN
/// map; `None` where a field is not what it should be, for the full parser to report.
fn op_from_fields(fields: Vec<(&str, Value)>, position: usize) -> Option<Op> {
    let text_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut op = blank_op(position);
    let mut typed = false;
    for (name, v) in fields {
        match name {
            "index" => op.index = v.as_u64()?,
            "time" => op.time = v.as_u64()?,
            "process" => op.process = serde_json::from_value(v).ok()?,
            "type" => {
                op.op_type = serde_json::from_value(v).ok()?;
                typed = true;
            }
            "f" => op.f = Function::parse(&text_of(&v).unwrap_or_default()),
            "key" => op.key = text_of(&v).map(Into::into),
            "value" => op.value = v,
            "node" => op.node = text_of(&v).map(Into::into),
            "final" => op.is_final = v == Value::Bool(true),
            "error" => {
                op.error = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.into()),
                    other => Some(other.to_string().into()),
                }
            }
            "wait" => op.wait = serde_json::from_value(v).ok()?,
            "waitaof" => op.waitaof = serde_json::from_value(v).ok()?,
            _ => {}
        }
    }
    if !typed {
        return None;
    }
    if op.f.is_missing() && super::record::is_txn_value(&op.value) {
        op.f = Function::Txn;
    }
    Some(op)
}

/// [`parse_record`] by the full parser.
fn parse_record_fully(text: &str, position: usize) -> Result<Op, EdnError> {
    let edn = read_one(text)?;
    let mut top = &edn;
    while let Edn::Tagged(_, inner) = top {
        top = inner;
    }
    let Edn::Map(fields) = top else {
        let value = to_json(top, 0)?;
        return super::record::from_value(value, position).map_err(|e| EdnError(e.to_string()));
    };
    let mut op = blank_op(position);
    let mut typed = false;
    for (k, v) in fields {
        let name = match k {
            Edn::Key(k) => keyword(k),
            Edn::Str(s) | Edn::Symbol(s) => s,
            _ => continue,
        };
        match name {
            "index" => op.index = unsigned(v, "index")?,
            "time" => op.time = unsigned(v, "time")?,
            "process" => op.process = through_json(v)?,
            "type" => {
                op.op_type = through_json(v)?;
                typed = true;
            }
            "f" => op.f = Function::parse(&text_of(v).unwrap_or_default()),
            "key" => op.key = text_of(v).map(Into::into),
            "value" => op.value = to_json(v, 1)?,
            "node" => op.node = text_of(v).map(Into::into),
            "final" => op.is_final = matches!(v, Edn::Bool(true)),
            "error" => {
                op.error = match to_json(v, 1)? {
                    Value::Null => None,
                    Value::String(s) => Some(s.into()),
                    other => Some(other.to_string().into()),
                }
            }
            "wait" => op.wait = through_json(v)?,
            "waitaof" => op.waitaof = through_json(v)?,
            _ => {}
        }
    }
    if !typed {
        return Err(EdnError("missing field `type`".into()));
    }
    if op.f.is_missing() && super::record::is_txn_value(&op.value) {
        op.f = Function::Txn;
    }
    Ok(op)
}

/// A non-negative integer field.
fn unsigned(v: &Edn<'_>, field: &str) -> Result<u64, EdnError> {
    match v {
        Edn::Int(i) => u64::try_from(*i).map_err(|_| EdnError(format!("{field} {i} is negative"))),
        other => Err(EdnError(format!("{field} must be an integer, not {other}"))),
    }
}

/// A field read through its JSON form with serde (process, type, wait).
fn through_json<T: serde::de::DeserializeOwned>(v: &Edn<'_>) -> Result<T, EdnError> {
    serde_json::from_value(to_json(v, 1)?).map_err(|e| EdnError(e.to_string()))
}

/// A key, node or function as text: strings, keywords, symbols and integers; `None` for nil.
fn text_of(v: &Edn<'_>) -> Option<String> {
    match v {
        Edn::Str(s) | Edn::Symbol(s) => Some(s.to_string()),
        Edn::Key(k) => Some(keyword(k).to_string()),
        Edn::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn describe(e: &clojure_reader::error::Error) -> String {
    let at = match (e.line, e.column) {
        (Some(l), Some(c)) => format!(" (record line {l}, column {c})"),
        _ => String::new(),
    };
    format!("not valid EDN: {:?}{at}", e.code)
}

/// The JSON value of a parsed form (see the module doc for the mapping).
fn to_json(edn: &Edn<'_>, depth: usize) -> Result<Value, EdnError> {
    if depth > MAX_DEPTH {
        return Err(EdnError(format!("nested more than {MAX_DEPTH} levels")));
    }
    let seq = |items: &mut dyn Iterator<Item = &Edn<'_>>| -> Result<Value, EdnError> {
        items
            .map(|e| to_json(e, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    };
    Ok(match edn {
        Edn::Nil => Value::Null,
        Edn::Bool(b) => Value::Bool(*b),
        Edn::Int(i) => Value::from(*i),
        Edn::Double(d) => float(d.into_inner())?,
        Edn::Rational((n, d)) => float(*n as f64 / *d as f64)?,
        Edn::Str(s) => Value::String(s.to_string()),
        Edn::Key(k) => Value::String(keyword(k).to_string()),
        Edn::Symbol(s) => Value::String(s.to_string()),
        Edn::Char(c) => Value::String(c.to_string()),
        Edn::Vector(v) | Edn::List(v) => seq(&mut v.iter())?,
        Edn::Set(s) => seq(&mut s.iter())?,
        Edn::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(key_text(k, depth)?, to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        Edn::Tagged(_, inner) => to_json(inner, depth + 1)?,
        #[allow(unreachable_patterns)]
        other => return Err(EdnError(format!("unsupported EDN value {other}"))),
    })
}

fn float(f: f64) -> Result<Value, EdnError> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| EdnError(format!("number {f} has no JSON form")))
}

/// A keyword's name: `:x` -> `x`, `:jepsen/x` -> `jepsen/x`.
fn keyword(k: &str) -> &str {
    k.strip_prefix(':').unwrap_or(k)
}

/// A map key as an object key: keywords, strings and symbols by name, anything else as JSON.
fn key_text(k: &Edn<'_>, depth: usize) -> Result<String, EdnError> {
    Ok(match k {
        Edn::Key(k) => keyword(k).to_string(),
        Edn::Str(s) | Edn::Symbol(s) => s.to_string(),
        other => to_json(other, depth + 1)?.to_string(),
    })
}

/// Finds the end of EDN (or JSON) forms in text fed a chunk at a time.
///
/// [`Splitter::feed`] consumes bytes until a form is complete and says where it ended; the
/// caller keeps the bytes of the form. Top-level whitespace, commas and `;` comments between
/// forms are skipped; with `in_sequence` the opening `[` or `(` of a top-level vector is
/// skipped and its closing bracket ends the input.
#[derive(Debug, Default)]
pub struct Splitter {
    depth: usize,
    started: bool,
    in_string: bool,
    escaped: bool,
    in_comment: bool,
    /// Inside an atom (keyword, number, symbol, tag) at the top level.
    in_atom: bool,
    /// The previous byte was `\` outside a string: this byte is a character literal.
    char_literal: bool,
    /// A top-level `#tag` was read: the next form belongs to this record.
    tagged: bool,
    /// The depth was exceeded.
    pub too_deep: bool,
    /// Line ends seen before the form began (blank lines, comments): the form's first line is
    /// this many lines after the first byte fed.
    pub lead_newlines: usize,
}

/// What [`Splitter::feed`] found in a chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The chunk was consumed without finishing a form.
    More,
    /// A form ends just before this offset of the chunk (the byte at it is not part of it).
    End(usize),
    /// A top-level closing bracket at this offset: the enclosing sequence ended.
    Close(usize),
}

impl Splitter {
    /// Whether a form has begun (non-blank, non-comment bytes were seen).
    pub fn started(&self) -> bool {
        self.started
    }

    /// Whether the form seen so far would be complete at the end of the input (an atom).
    pub fn complete_at_eof(&self) -> bool {
        self.started && self.depth == 0 && !self.in_string && !self.tagged
    }

    /// Resets for the next form.
    pub fn reset(&mut self) {
        *self = Splitter::default();
    }

    /// Scans `chunk`; see [`Step`].
    pub fn feed(&mut self, chunk: &[u8]) -> Step {
        let mut i = 0;
        while i < chunk.len() {
            // Inside a form only brackets, strings, escapes and comments matter, inside a
            // string only its end and escapes: skip the rest without looking at each byte.
            let inside = self.depth > 0 && !self.in_comment && !self.char_literal;
            let skip = if self.in_string && !self.escaped {
                chunk[i..].iter().position(|&b| b == b'"' || b == b'\\')
            } else if inside && !self.in_string {
                chunk[i..].iter().position(|&b| SPECIAL[b as usize])
            } else {
                Some(0)
            };
            match skip {
                Some(j) => i += j,
                None => return Step::More,
            }
            if let Some(step) = self.byte(chunk, i) {
                return step;
            }
            i += 1;
        }
        Step::More
    }

    /// Takes byte `i` of `chunk`; `Some` when it ends the form or the sequence.
    fn byte(&mut self, chunk: &[u8], i: usize) -> Option<Step> {
        let b = chunk[i];
        if b == b'\n' && !self.started {
            self.lead_newlines += 1;
        }
        if self.in_comment {
            self.in_comment = b != b'\n';
            return None;
        }
        if self.in_string {
            return self.string_byte(b, i);
        }
        if self.char_literal {
            // `\x`, `\newline`, `\u0041`: the literal runs to the next delimiter.
            self.char_literal = false;
            self.in_atom = self.depth == 0;
            return None;
        }
        if self.in_atom {
            if !is_delimiter(b) {
                return None;
            }
            self.in_atom = false;
            if self.depth == 0 && !self.tagged {
                return Some(Step::End(i));
            }
        }
        self.structural_byte(chunk, i)
    }

    /// Byte `b` at `i` inside a string: an escape, the closing quote, or content.
    fn string_byte(&mut self, b: u8, i: usize) -> Option<Step> {
        if self.escaped {
            self.escaped = false;
        } else if b == b'\\' {
            self.escaped = true;
        } else if b == b'"' {
            self.in_string = false;
            if self.depth == 0 {
                return Some(Step::End(i + 1));
            }
        }
        None
    }

    /// Byte `i` of `chunk` outside strings, comments and atoms: what it opens or closes.
    fn structural_byte(&mut self, chunk: &[u8], i: usize) -> Option<Step> {
        match chunk[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b',' => {}
            b';' => self.in_comment = true,
            b'"' => {
                self.started = true;
                self.tagged = false;
                self.in_string = true;
            }
            b'(' | b'[' | b'{' => {
                self.started = true;
                self.tagged = false;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    self.too_deep = true;
                    return Some(Step::End(i + 1));
                }
            }
            b')' | b']' | b'}' => {
                if self.depth == 0 {
                    return Some(Step::Close(i));
                }
                self.depth -= 1;
                if self.depth == 0 {
                    return Some(Step::End(i + 1));
                }
            }
            b'\\' => {
                self.started = true;
                self.tagged = false;
                self.char_literal = true;
            }
            b'#' if self.depth == 0 => {
                // `#{` opens a set, `#_` discards, anything else is a tag on the next form.
                self.started = true;
                match chunk.get(i + 1) {
                    Some(b'{') | Some(b'_') => {}
                    _ => {
                        self.tagged = true;
                        self.in_atom = true;
                    }
                }
            }
            _ => {
                self.started = true;
                self.tagged = false;
                self.in_atom = self.depth == 0;
            }
        }
        None
    }
}

/// Whether `b` ends an atom (a number, keyword or symbol).
fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\r' | b'\n' | b',' | b';' | b'"' | b'(' | b')' | b'[' | b']' | b'{' | b'}'
    )
}

/// The bytes that matter inside a form (outside strings): brackets, strings, escapes and
/// comments.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    let special = b"\"\\;()[]{}";
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forms(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = Splitter::default();
        let mut start = 0usize;
        let bytes = text.as_bytes();
        let mut pos = 0usize;
        while pos < bytes.len() {
            match s.feed(&bytes[pos..]) {
                Step::More => break,
                Step::End(n) => {
                    out.push(text[start..pos + n].trim().to_string());
                    pos += n;
                    start = pos;
                    s.reset();
                }
                Step::Close(n) => {
                    pos += n + 1;
                    start = pos;
                }
            }
        }
        if s.complete_at_eof() {
            out.push(text[start..].trim().to_string());
        }
        out
    }

    #[test]
    fn splits_maps_vectors_strings_comments_and_tags() {
        let text = "; a comment [not a form\n{:a \"}\" :b [1 2]}\n{:c \\} :d #{1}}, :kw 12 \
                    #jepsen.history.Op{:x 1}\n";
        // A form's text keeps the comments and commas before it; the parser skips them.
        let parsed: Vec<Value> = forms(text).iter().map(|f| parse(f).unwrap()).collect();
        assert_eq!(
            parsed,
            [
                json!({"a": "}", "b": [1, 2]}),
                json!({"c": "}", "d": [1]}),
                json!("kw"),
                json!(12),
                json!({"x": 1}),
            ]
        );
    }

    #[test]
    fn converts_keywords_sets_and_tags() {
        let v = parse(
            "{:type :ok, :f :txn, :process :nemesis, :value [[:append :x 1] [:r :x nil]], \
             :error [:socket \"Broken pipe\"], :s #{3 1}, :t #inst \"2020\", 1 :one}",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"type": "ok", "f": "txn", "process": "nemesis",
                   "value": [["append", "x", 1], ["r", "x", null]],
                   "error": ["socket", "Broken pipe"], "s": [1, 3], "t": "2020", "1": "one"})
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let mut s = Splitter::default();
        s.feed(deep.as_bytes());
        assert!(s.too_deep);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn trailing_text_and_bad_forms_are_errors() {
        assert!(parse("{:a 1} {:b 2}").is_err());
        assert!(parse("{:a").is_err());
        assert!(parse("{:a 1 :a 2}").is_err());
    }
}
