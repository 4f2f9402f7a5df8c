#!/usr/bin/env python3
"""Converts a Jepsen/Knossos EDN history (a vector or list of op maps) to redline's JSONL, so
histories with known verdicts can be checked with `redline check`.

Handles the subset such histories use: maps, vectors, lists, keywords (`:ok` -> "ok"), integers,
floats, strings, nil/true/false and `;` comments. Keyword keys lose their colon; `:value` of
`:cas` ops stays `[old, new]`. Usage: scripts/edn-to-jsonl.py IN.edn > OUT.jsonl
"""
import json
import re
import sys

TOKEN = re.compile(r'''\s*(?:;[^\n]*\n?|,|(\{|\}|\[|\]|\(|\))|("(?:\\.|[^"\\])*")|([^\s,\{\}\[\]\(\)";]+))''')


def tokens(text):
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                return
            raise SyntaxError(f"cannot read EDN at offset {pos}: {text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group(1):
            yield m.group(1)
        elif m.group(2):
            yield ("str", json.loads(m.group(2)))
        elif m.group(3):
            yield ("atom", m.group(3))


def atom(a):
    if a == "nil":
        return None
    if a in ("true", "false"):
        return a == "true"
    if a.startswith(":"):
        return a[1:]
    try:
        return int(a)
    except ValueError:
        pass
    try:
        return float(a)
    except ValueError:
        return a


def parse(it):
    tok = next(it)
    if tok in ("{",):
        out = {}
        while True:
            k = parse(it)
            if k is CLOSE:
                return out
            out[k] = parse(it)
    if tok in ("[", "("):
        out = []
        while True:
            v = parse(it)
            if v is CLOSE:
                return out
            out.append(v)
    if tok in ("}", "]", ")"):
        return CLOSE
    kind, value = tok
    return value if kind == "str" else atom(value)


CLOSE = object()


def main():
    text = open(sys.argv[1]).read()
    ops = parse(tokens(text))
    for op in ops:
        if not isinstance(op, dict):
            continue
        op.pop("error", None) if isinstance(op.get("error"), (list, dict)) else None
        print(json.dumps(op))


if __name__ == "__main__":
    main()
