#!/usr/bin/env python3
"""How long before the fault that lost it each lost write was acknowledged, for one run folder.

Usage: scripts/lost-write-ages.py RUN_DIR [FAULT]   (FAULT: kill or power-loss; default: both)

Prints one JSON line: the lost-writes count, and over the lost writes the age in ms of their
acknowledgement at the fault that lost it (the first fault invoked after the write was):
max, median, how many were acknowledged more than 1000 and 2000 ms before it, and how many
after it (the server replied just before it died; the reply was still on its way). A write
whose loss fits Redis's everysec promise was acknowledged at most about a second (two, under
a stalled fsync) before the fault.
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
    fault_ms = []
    time_ms = {}
    for line in (run / "history.jsonl").read_text().splitlines():
        try:
            op = json.loads(line)
        except ValueError:
            continue
        if "index" in op and "time" in op:
            time_ms[op["index"]] = op["time"] / 1e6
        if op.get("f") in faults and op.get("type") == "invoke":
            fault_ms.append(op["time"] / 1e6)
    ages = []
    for anomaly in lost_writes.get("anomalies", []):
        if anomaly.get("kind") != "lost" or not anomaly.get("ops"):
            continue
        acked = anomaly.get("details", {}).get("known_ms")
        invoked = time_ms.get(anomaly["ops"][0])
        after = [f for f in fault_ms if invoked is not None and f > invoked]
        if after and acked is not None:
            ages.append(after[0] - acked)
    summary = {
        "lost": lost_writes["stats"].get("lost", 0),
        "acknowledged": lost_writes["stats"].get("acknowledged", 0),
        "faults": len(fault_ms),
        "age_ms_max": round(max(ages), 1) if ages else None,
        "age_ms_median": round(statistics.median(ages), 1) if ages else None,
        "older_than_1000ms": sum(a > 1000 for a in ages),
        "older_than_2000ms": sum(a > 2000 for a in ages),
        "acknowledged_after_it": sum(a < 0 for a in ages),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
