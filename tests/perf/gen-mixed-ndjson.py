#!/usr/bin/env python3
"""Mixed TRD NDJSON at population scale (issue 13 item 4), as a Bulk Data export would hold it.

Every entry resource of the golden Bundles (CarePlans, orders, sessions, PHQ-9 panels/items/totals, Goals, ...) is a
template. Copy k of a template belongs to synthetic patient k // 40: ids and identifier values get a copy suffix, references become relative
`Type/id` references (urn:uuid fullUrls and conditional `Type?identifier=...` references are resolved to the
copy's ids, as an export holds them), every date/dateTime is shifted by a per-copy number of days. 1 line in 10 is made
invalid (an unknown status code), 1 line in 10,000 is broken JSON. All data is synthetic.

    gen-mixed-ndjson.py OUT.ndjson SIZE_MB [GOLDEN_DIR]
"""
import datetime
import glob
import json
import os
import re
import sys

out, size_mb = sys.argv[1], float(sys.argv[2])
golden = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "Trd.Fhir.Adapter.Tests", "Golden")

templates = []
for path in sorted(glob.glob(os.path.join(golden, "*.bundle.json"))):
    bundle = json.load(open(path))
    by_url = {}
    by_ident = {}
    for i, e in enumerate(bundle["entry"]):
        r = e["resource"]
        rid = r.get("id") or f"{r['resourceType'].lower()}-{os.path.basename(path).split('.')[0]}-{i}"
        r["id"] = rid
        if "fullUrl" in e:
            by_url[e["fullUrl"]] = f"{r['resourceType']}/{rid}"
        for ident in r.get("identifier", []):
            by_ident[f"{r['resourceType']}?identifier={ident.get('system', '')}|{ident.get('value', '')}"] = f"{r['resourceType']}/{rid}"
    for e in bundle["entry"]:
        templates.append((e["resource"], by_url, by_ident))

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T.*)?$")
SAFE = re.compile(r"[^A-Za-z0-9\-.]")


def rewrite(node, copy, by_url, by_ident):
    if isinstance(node, dict):
        res = {}
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                target = by_url.get(v) or by_ident.get(v)
                if target is None and "?" in v:  # conditional reference to a resource outside the Bundle (the Patient)
                    kind, query = v.split("?", 1)
                    target = f"{kind}/{SAFE.sub('-', query.split('|')[-1])[:40]}"
                if target is not None:
                    kind, rid = target.split("/", 1)
                    res[k] = f"{kind}/{rid[:50]}-{copy // 40 if kind == 'Patient' else copy}"
                    continue
            if k == "id" and isinstance(v, str):
                res[k] = f"{v[:50]}-{copy}"
                continue
            if k == "value" and isinstance(v, str) and "system" in node:  # an Identifier: one per copy
                res[k] = f"{v}-{copy}"
                continue
            res[k] = rewrite(v, copy, by_url, by_ident)
        return res
    if isinstance(node, list):
        return [rewrite(x, copy, by_url, by_ident) for x in node]
    if isinstance(node, str) and DATE.match(node):
        day = datetime.date.fromisoformat(node[:10]) - datetime.timedelta(days=copy % 1500)
        return day.isoformat() + node[10:]
    return node


limit = size_mb * 1024 * 1024
written = 0
n = 0
with open(out, "w") as f:
    while written < limit:
        template, by_url, by_ident = templates[n % len(templates)]
        copy = n // len(templates)
        n += 1
        if n % 10000 == 0:
            line = '{"resourceType":"Observation","id":"broken-%d",' % n
        else:
            r = rewrite(template, copy, by_url, by_ident)
            if n % 10 == 0 and "status" in r:
                r["status"] = "not-a-status"
            line = json.dumps(r, separators=(",", ":"))
        f.write(line + "\n")
        written += len(line) + 1
print(f"{out}: {n} lines, {written / 1048576:.0f} MiB, {len(templates)} templates", file=sys.stderr)
