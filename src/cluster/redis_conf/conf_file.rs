//! Reading a `--redis-conf` file the way the server reads it, so that the checks see the keys
//! the server will see: the text is cut at each `\n`, each line trimmed of spaces, tabs, CRs and
//! newlines, lines starting with `#` skipped, and each line split into arguments by a port of
//! redis's `sdssplitargs` (double quotes with `\n`, `\xHH`, ... escapes; single quotes; a quote
//! may start in the middle of an argument, so `d"ir"` is `dir`). The first argument, lowercased,
//! is the key.
//!
//! `include` is refused rather than followed: the included file could change after the check,
//! and on SSH hosts it would name a file of the host; its options belong in this file.

use super::{check_not_owned, ConfError};

/// The first harness-owned option (or `include`) in a config file's text, as an error naming
/// its line.
pub fn check_conf_text(text: &str) -> Result<(), ConfError> {
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args =
            split_args(line.as_bytes()).ok_or(ConfError::UnbalancedQuotes { line: i + 1 })?;
        let Some(key) = args.first() else {
            continue;
        };
        let key = String::from_utf8_lossy(key).to_ascii_lowercase();
        check_not_owned(&key).map_err(|e| ConfError::Line {
            line: i + 1,
            source: Box::new(e),
        })?;
    }
    Ok(())
}

/// Splits a config line into arguments exactly as redis's `sdssplitargs` does; `None` for
/// unbalanced quotes (the server refuses such a line). A NUL byte ends the line, as it ends a C
/// string.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = line.split(|b| *b == 0).next().unwrap_or_default();
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(args);
        }
        let (arg, next) = split_one(line, p)?;
        args.push(arg);
        p = next;
    }
}

/// Where a scan is inside an argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Double,
    Single,
}

/// One argument starting at `p`; returns it and where the scan goes on.
fn split_one(line: &[u8], mut p: usize) -> Option<(Vec<u8>, usize)> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut quote = Quote::None;
    let mut arg = Vec::new();
    loop {
        let c = at(p);
        match quote {
            Quote::None => match c {
                b' ' | b'\n' | b'\r' | b'\t' | 0 => return Some((arg, p + usize::from(c != 0))),
                b'"' => quote = Quote::Double,
                b'\'' => quote = Quote::Single,
                other => arg.push(other),
            },
            Quote::Double
                if c == b'\\' && at(p + 1) == b'x' && is_hex(at(p + 2)) && is_hex(at(p + 3)) =>
            {
                arg.push(hex(at(p + 2)) * 16 + hex(at(p + 3)));
                p += 3;
            }
            Quote::Double if c == b'\\' && at(p + 1) != 0 => {
                p += 1;
                arg.push(match at(p) {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    b'a' => 7,
                    other => other,
                });
            }
            Quote::Single if c == b'\\' && at(p + 1) == b'\'' => {
                p += 1;
                arg.push(b'\'');
            }
            Quote::Double | Quote::Single => {
                let closing = if quote == Quote::Double { b'"' } else { b'\'' };
                if c == closing {
                    // The closing quote must be followed by a space or nothing at all.
                    let next = at(p + 1);
                    return (next == 0 || is_space(next)).then_some((arg, p + 1));
                }
                if c == 0 {
                    return None; // unterminated quotes
                }
                arg.push(c);
            }
        }
        p += 1;
    }
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).map_or(0, |d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn arguments_split_as_sdssplitargs_splits_them() {
        assert_eq!(args("save \"\"").unwrap(), ["save", ""]);
        assert_eq!(args("  a  b\tc ").unwrap(), ["a", "b", "c"]);
        assert_eq!(args("d\"ir\" x").unwrap(), ["dir", "x"]);
        assert_eq!(args("\"\\x64ir\" 'a\\'b'").unwrap(), ["dir", "a'b"]);
        assert_eq!(args("k \"a\\nb\"").unwrap(), ["k", "a\nb"]);
        assert_eq!(args("a\rb").unwrap(), ["a", "b"]);
        assert_eq!(args("a\0b c").unwrap(), ["a"]);
        assert_eq!(args("").unwrap(), Vec::<String>::new());
        assert!(args("\"open").is_none());
        assert!(
            args("\"a\"b").is_none(),
            "a closing quote needs a space after it"
        );
        assert!(args("'a").is_none());
    }
}
