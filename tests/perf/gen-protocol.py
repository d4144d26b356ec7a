#!/usr/bin/env python3
"""Writes a synthetic protocol document with N PHQ-9 totals (no item scores), shaped like the issue's 372 KB / 10,000-totals
request: examples/phase1-augmentation.json with its phq9 array replaced by N fortnightly-ish totals (one per day).
Usage: gen-protocol.py N OUT.json [--items]   (--items: each entry also carries its 9 item scores)"""
import datetime, json, os, sys

n, out = int(sys.argv[1]), sys.argv[2]
items = "--items" in sys.argv
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
doc = json.load(open(os.path.join(root, "examples", "phase1-augmentation.json")))
start = datetime.date(2000, 1, 1)
phq = []
for i in range(n):
    scores = [(i + k) % 4 for k in range(9)]
    entry = {"date": (start + datetime.timedelta(days=i)).isoformat()}
    if items:
        entry["items"] = scores
    entry["total"] = sum(scores) if items else (i * 7) % 28
    phq.append(entry)
doc["phq9"] = phq
with open(out, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
