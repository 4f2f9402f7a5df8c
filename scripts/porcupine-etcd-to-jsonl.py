#!/usr/bin/env python3
"""Converts a Jepsen etcd register log, as kept in Porcupine's test data, to redline's JSONL.

Where the logs come from (kept outside this repository):
    git clone https://github.com/anishathalye/porcupine   ->  test_data/jepsen/etcd_NNN.log
Their known verdicts are Porcupine's `TestEtcdJepsenNNN` tests in porcupine_test.go (see
scripts/check-etcd-corpus.sh).

Lines look like `INFO  jepsen.util - 3<TAB>:invoke<TAB>:cas<TAB>[1 4]`. This follows Porcupine's
`parseJepsenLog` exactly, so both checkers judge the same history:
- `:invoke :read nil`, `:invoke :write V`, `:invoke :cas [A B]` start an op of that process;
- `:ok :read nil|V`, `:ok :write V`, `:ok :cas [A B]` complete it (`nil`: the key is absent);
- `:fail :cas [A B]` completes a cas whose compare did not match: in Porcupine's etcd model it
  happened and saw a value other than A, which is redline's `fail` with `"error":"mismatch"`;
- `:fail :read :timed-out` completes a read with an unknown result (Porcupine's model accepts
  any state): it constrains nothing, written here as a `fail` read;
- every other line is ignored, as Porcupine ignores it. In particular `:info ... :timed-out`
  leaves the op pending; Porcupine then gives every still-pending op an "unknown" return after
  the last event, and so do we, as `info` completions at the end (an `info` op is open forever
  in redline: it may or may not have taken effect, anywhere after its invocation).

One register, no key; no times, so redline orders events by record position, as Porcupine's
`CheckEvents` does.

Usage: scripts/porcupine-etcd-to-jsonl.py IN.log > OUT.jsonl
       scripts/porcupine-etcd-to-jsonl.py --expected etcd_NNN.log   (prints true, false or none)
"""
import json
import re
import sys

HEAD = r"^INFO\s+jepsen\.util\s+-\s+(\d+)\s+"
INVOKE_READ = re.compile(HEAD + r":invoke\s+:read\s+nil$")
INVOKE_WRITE = re.compile(HEAD + r":invoke\s+:write\s+(\d+)$")
INVOKE_CAS = re.compile(HEAD + r":invoke\s+:cas\s+\[(\d+)\s+(\d+)\]$")
RETURN_READ = re.compile(HEAD + r":ok\s+:read\s+(nil|\d+)$")
RETURN_WRITE = re.compile(HEAD + r":ok\s+:write\s+(\d+)$")
RETURN_CAS = re.compile(HEAD + r":(ok|fail)\s+:cas\s+\[(\d+)\s+(\d+)\]$")
TIMEOUT_READ = re.compile(HEAD + r":fail\s+:read\s+:timed-out$")


# The logs porcupine_test.go expects to be linearizable (TestEtcdJepsenNNN with `true`); every
# other number from 000 to 102 is expected not to be, except 095, which has no test ("etcd
# cluster failed to start up in test 95").
LINEARIZABLE = {2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56, 67, 75, 76, 80, 87, 92, 98,
                100, 101, 102}
NO_VERDICT = {95}


def expected(path):
    """`true`/`false` from Porcupine's tests for etcd_NNN.log, `none` when it has no test."""
    m = re.search(r"etcd_(\d+)\.log$", path)
    if not m or int(m[1]) > 102 or int(m[1]) in NO_VERDICT:
        return "none"
    return "true" if int(m[1]) in LINEARIZABLE else "false"


def convert(lines):
    """Yields redline ops (dicts) for the log's lines, pending ops closed as `info` at the end."""
    pending = {}  # process -> its invocation (Porcupine's procIdMap)

    def invoke(proc, f, value):
        if proc in pending:
            # Porcupine would silently lose the earlier op's return; say so instead.
            raise SystemExit(f"process {proc} invokes while its previous op is pending")
        op = {"process": proc, "type": "invoke", "f": f, "value": value}
        pending[proc] = op
        return op

    def complete(proc, op_type, value, **extra):
        inv = pending.pop(proc, None)
        if inv is None:
            # Porcupine matches it to process's last id regardless; no well-formed log does this.
            raise SystemExit(f"process {proc} completes an op it never invoked")
        return {"process": proc, "type": op_type, "f": inv["f"], "value": value, **extra}

    for line in lines:
        line = line.rstrip("\n")
        if m := INVOKE_READ.match(line):
            yield invoke(int(m[1]), "read", None)
        elif m := INVOKE_WRITE.match(line):
            yield invoke(int(m[1]), "write", int(m[2]))
        elif m := INVOKE_CAS.match(line):
            yield invoke(int(m[1]), "cas", [int(m[2]), int(m[3])])
        elif m := RETURN_READ.match(line):
            yield complete(int(m[1]), "ok", None if m[2] == "nil" else int(m[2]))
        elif m := RETURN_WRITE.match(line):
            yield complete(int(m[1]), "ok", int(m[2]))
        elif m := RETURN_CAS.match(line):
            value = [int(m[3]), int(m[4])]
            if m[2] == "ok":
                yield complete(int(m[1]), "ok", value)
            else:
                yield complete(int(m[1]), "fail", value, error="mismatch")
        elif m := TIMEOUT_READ.match(line):
            yield complete(int(m[1]), "fail", None, error="timed-out")
    for proc in list(pending):
        inv = pending[proc]
        yield complete(proc, "info", inv["value"], error="pending at the end of the log")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--expected":
        print(expected(sys.argv[2]))
        return
    if len(sys.argv) != 2:
        raise SystemExit("usage: porcupine-etcd-to-jsonl.py [--expected] IN.log > OUT.jsonl")
    with open(sys.argv[1]) as f:
        for op in convert(f):
            print(json.dumps(op))


if __name__ == "__main__":
    main()
