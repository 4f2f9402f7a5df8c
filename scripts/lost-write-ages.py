#!/usr/bin/env python3
"""How long before the fault that lost it each lost write was acknowledged, for one run folder.

Usage: scripts/lost-write-ages.py RUN_DIR [FAULT]   (FAULT: kill or power-loss; default: both)

Prints one JSON line: the lost-writes count, and over the lost writes the age in ms of their
acknowledgement at the fault that lost it: max, median, how many were acknowledged more than
1000 and 2000 ms before it, and how many after it (the write was sent while the fault was under
way and the server replied just before it died; the reply was still on its way). A write whose
loss fits Redis's everysec promise was acknowledged at most about a second (two, under a stalled
fsync) before the fault.

The fault and the age are the lost-writes checker's (`details.fault_op`, `details.age_ms` of
each `lost` anomaly; FaultLog::that_lost is the one definition, which `--expect lost-within=MS`
uses too); FAULT keeps only the writes lost to that kind of fault. Lost writes whose anomaly
is not listed (a capped list) are left out of the ages.
Used by scripts/power-loss-rates.sh and scripts/everysec-evidence.sh.
"""
import json
import statistics
import sys
from pathlib import Path


def main():
    run = Path(sys.argv[1])
    faults = {sys.argv[2]} if len(sys.argv) > 2 else {"kill", "power-loss"}
    results = json.loads((run / "results.json").read_text())
    lost_writes = results["checkers"]["lost-writes"]
    fault_f = {}
    fault_count = 0
    for line in (run / "history.jsonl").read_text().splitlines():
        try:
            op = json.loads(line)
        except ValueError:
            continue
        if op.get("process") == "nemesis" and op.get("type") == "invoke":
            fault_f[op.get("index")] = op.get("f")
            fault_count += op.get("f") in faults
    ages = []
    for anomaly in lost_writes.get("anomalies", []):
        details = anomaly.get("details", {})
        if anomaly.get("kind") != "lost" or details.get("age_ms") is None:
            continue
        if fault_f.get(details.get("fault_op")) in faults:
            ages.append(details["age_ms"])
    summary = {
        "lost": lost_writes["stats"].get("lost", 0),
        "acknowledged": lost_writes["stats"].get("acknowledged", 0),
        "faults": fault_count,
        "age_ms_max": round(max(ages), 1) if ages else None,
        "age_ms_median": round(statistics.median(ages), 1) if ages else None,
        "older_than_1000ms": sum(a > 1000 for a in ages),
        "older_than_2000ms": sum(a > 2000 for a in ages),
        "acknowledged_after_it": sum(a < 0 for a in ages),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
