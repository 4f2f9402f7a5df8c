#!/usr/bin/env python3
"""When a cut Redis Cluster primary stopped taking writes, against when its replica won the
election, from the servers' own logs (docs/cluster.md, "Missing": the Valkey split-brain).

For every run under STORE (STORE/<test>/latest, runs of `--nemesis partition:minority`): the
node the first partition isolated, the time it logged `Cluster state changed: fail` (from then
on it refuses writes), the time its replica logged the FAIL it acted on and `Failover election
won`, the election delay the replica logged, and the margin. A primary that stops after the
new one is elected leaves both taking writes for the difference (a split-brain window); the
run's split-brain verdict says whether a write landed in it.

Usage: scripts/cluster-failover-margins.py STORE
"""
import datetime
import glob
import json
import os
import re
import sys

STAMP = re.compile(r"(\d\d \w\w\w \d{4} \d\d:\d\d:\d\d\.\d{3})")


def when(line):
    m = STAMP.search(line)
    return datetime.datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f") if m else None


def log(run, node):
    with open(os.path.join(run, "nodes", node, "redis.log")) as f:
        return f.read().splitlines()


def isolated(run):
    with open(os.path.join(run, "history.jsonl")) as f:
        for line in f:
            if '"f":"partition"' in line and '"type":"invoke"' in line:
                pairs = [set(p) for p in json.loads(line)["value"].get("cut") or []]
                common = set.intersection(*pairs) if pairs else set()
                return common.pop() if len(common) == 1 else None
    return None


def margins(run):
    cut = isolated(run)
    if cut is None:
        return f"{run}: no minority partition"
    ok_seen, stopped = False, None
    for line in log(run, cut):
        if "Cluster state changed: ok" in line:
            ok_seen = True
        elif ok_seen and "Cluster state changed: fail" in line:
            stopped = when(line)
            break
    if stopped is None:
        return f"{run}: cut {cut}; it never logged that it stopped"
    # The election that answered this cut: of every replica's wins, the one nearest the stop
    # (a run with several partitions has several elections).
    wins = []
    for node in sorted(os.listdir(os.path.join(run, "nodes"))):
        if node == cut or not node.startswith("n"):
            continue
        for line in log(run, node):
            if "Failover election won" in line and when(line):
                wins.append((abs((when(line) - stopped).total_seconds()), when(line), node))
    if not wins:
        return f"{run}: cut {cut}; no election logged"
    _, won, winner = min(wins)
    fail_seen = delayed = None
    for line in log(run, winner):
        t = when(line)
        if t is None or t > won:
            continue
        if "FAIL message received" in line or "(quorum reached)" in line:
            fail_seen = t
        m = re.search(r"election delayed for (\d+) milliseconds", line)
        if m:
            delayed = m.group(1)
    results = os.path.join(run, "results.json")
    split_brain = "no results.json"
    if os.path.exists(results):
        with open(results) as f:
            split_brain = json.load(f)["checkers"].get("split-brain", {}).get("valid")
    gap = (stopped - won).total_seconds() * 1000
    side = f"AFTER the new primary's election by {gap:.0f} ms" if gap > 0 else f"{-gap:.0f} ms before it"
    after_fail = f"{(won - fail_seen).total_seconds() * 1000:.0f} ms" if fail_seen else "?"
    return (f"{run}: cut {cut} stopped {stopped.time()}, {side}; {winner} won {won.time()}, "
            f"{after_fail} after the FAIL (election delayed {delayed} ms); split-brain valid: {split_brain}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for run in sorted(glob.glob(os.path.join(sys.argv[1], "*", "latest"))):
        print(margins(run))


if __name__ == "__main__":
    main()
