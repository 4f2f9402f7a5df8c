//! The common shape of a Jepsen EDN record, read straight into JSON values without building
//! an EDN tree first.
//!
//! Jepsen's and Elle's histories are, record after record, maps of keywords to integers,
//! keywords, strings, `nil`, booleans, and vectors or maps of those. This reader takes exactly
//! that subset and gives up (`None`) on anything else: comments, tags, sets, symbols,
//! characters, floats, big or prefixed numbers, escapes in strings, duplicate keys. The caller
//! then reads the record with the full parser ([`super::parse_record`]), so the fast path
//! decides nothing on its own: where it answers, it answers what the full parser would (the
//! tests compare the two on the same records), and every error comes from the full parser.

use serde_json::{Map, Value};

/// The fields of a top-level map in the subset (see the module doc), in text order.
pub fn record_fields(text: &str) -> Option<Vec<(&str, Value)>> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.blank();
    p.expect(b'{')?;
    let mut fields: Vec<(&str, Value)> = Vec::with_capacity(8);
    loop {
        p.blank();
        if p.peek()? == b'}' {
            p.i += 1;
            break;
        }
        let key = p.key()?;
        if fields.iter().any(|(k, _)| *k == key) {
            return None;
        }
        p.blank();
        let value = p.value(1)?;
        fields.push((key, value));
    }
    p.blank();
    (p.i == p.s.len()).then_some(fields)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    /// Skips whitespace and commas; a comment is outside the subset.
    fn blank(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n' | b',') = self.peek() {
            self.i += 1;
        }
    }

    /// A map key: a keyword or a string, as text.
    fn key(&mut self) -> Option<&'a str> {
        match self.peek()? {
            b':' => self.keyword(),
            b'"' => self.string(),
            _ => None,
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > super::MAX_DEPTH {
            return None;
        }
        Some(match self.peek()? {
            b':' => Value::String(self.keyword()?.to_string()),
            b'"' => Value::String(self.string()?.to_string()),
            b'[' | b'(' => {
                let close = if self.peek()? == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.blank();
                    if self.peek()? == close {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            b'{' => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    self.blank();
                    if self.peek()? == b'}' {
                        self.i += 1;
                        break;
                    }
                    let key = self.key()?.to_string();
                    self.blank();
                    let value = self.value(depth + 1)?;
                    if map.insert(key, value).is_some() {
                        return None;
                    }
                }
                Value::Object(map)
            }
            b'-' | b'0'..=b'9' => Value::from(self.integer()?),
            _ => match self.atom()? {
                "nil" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return None,
            },
        })
    }

    /// The bytes up to the next delimiter.
    fn atom(&mut self) -> Option<&'a str> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b' ' | b'\t'
                    | b'\r'
                    | b'\n'
                    | b','
                    | b'['
                    | b']'
                    | b'('
                    | b')'
                    | b'{'
                    | b'}'
                    | b'"'
                    | b';'
            ) {
                break;
            }
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()
    }

    /// `:name` as `name`; plain names only (a letter, then letters, digits, `-_?!*+<>=/.`).
    fn keyword(&mut self) -> Option<&'a str> {
        self.i += 1;
        let name = self.atom()?;
        let plain = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && !name.ends_with('/')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_?!*+<>=/.".contains(&b));
        plain.then_some(name)
    }

    /// A string without escapes (any escape is left to the full parser).
    fn string(&mut self) -> Option<&'a str> {
        self.i += 1;
        let start = self.i;
        let len = self.s[start..].iter().position(|&b| b == b'"')?;
        let body = &self.s[start..start + len];
        if body.contains(&b'\\') {
            return None;
        }
        self.i = start + len + 1;
        std::str::from_utf8(body).ok()
    }

    /// An integer in `i64`: an optional `-` and decimal digits, no leading zeros, no suffix.
    fn integer(&mut self) -> Option<i64> {
        let text = self.atom()?;
        let digits = text.strip_prefix('-').unwrap_or(text);
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !plain {
            return None;
        }
        text.parse().ok()
    }
}
