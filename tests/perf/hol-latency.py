#!/usr/bin/env python3
"""Head-of-line blocking (issue 13 item 2): p95 latency of small `POST /protocols/$map` requests (examples/phase1-augmentation.json)
with and without one large request (a protocol with N PHQ-9 totals, default 10,000 → a 20,018-entry Bundle) in flight.

Starts `trd-fhir serve` (Release build) on a free loopback port with a throw-away API key and ledger, warms it, then runs
three phases, each sending the small request at a fixed pace (every --interval s) and recording each latency:
  A. baseline (nothing else in flight);  B. while the large request is in flight;  C. baseline again (machine drift).
Prints p50 / p95 / max per phase and the ratio p95(B) / p95(mean of A and C) — the issue's goal: ≤ 2 — with `uptime`.
Usage: tests/perf/hol-latency.py [--totals N] [--samples K] [--interval S]"""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ap = argparse.ArgumentParser()
ap.add_argument("--totals", type=int, default=10000)
ap.add_argument("--samples", type=int, default=40)
ap.add_argument("--interval", type=float, default=0.25)
args = ap.parse_args()

subprocess.run(["dotnet", "build", os.path.join(root, "src/Trd.Fhir.Adapter"), "-c", "Release", "--nologo", "-v", "quiet", "-clp:ErrorsOnly"], check=True)
trd = os.path.join(root, "src/Trd.Fhir.Adapter/bin/Release/net10.0/trd-fhir.dll")
work = tempfile.mkdtemp(prefix="trd-hol-")
big_path = os.path.join(work, "big.json")
subprocess.run([sys.executable, os.path.join(root, "tests/perf/gen-protocol.py"), str(args.totals), big_path], check=True)
small = open(os.path.join(root, "examples/phase1-augmentation.json"), "rb").read()
big = open(big_path, "rb").read()

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
base = f"http://127.0.0.1:{port}"
key = "perf-synthetic-key"
env = dict(os.environ, TRD_FHIR_API_KEY=key)
server = subprocess.Popen(["dotnet", trd, "serve", "--urls", base, "--server", "http://127.0.0.1:9/fhir", "--ledger", os.path.join(work, "ledger.db"),
                           "--rate-limit", "1000000", "--set", "Api:RequestBudget=00:30:00"],
                          env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"), cwd=work)


def post(body, timeout=3600):
    request = urllib.request.Request(base + "/protocols/$map", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-Api-Key": key})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        status = e.code
    return time.perf_counter() - started, status


def phase(name, keep_going=lambda: True):
    latencies = []
    while len(latencies) < args.samples and keep_going():
        tick = time.perf_counter()
        seconds, status = post(small)
        if status != 200:
            sys.exit(f"{name}: small $map answered {status}")
        latencies.append(seconds)
        time.sleep(max(0.0, args.interval - (time.perf_counter() - tick)))
    return latencies


def describe(name, latencies):
    q = statistics.quantiles(latencies, n=20, method="inclusive")
    print(f"{name}\t{len(latencies)}\t{statistics.median(latencies) * 1000:.0f}\t{q[18] * 1000:.0f}\t{max(latencies) * 1000:.0f}")
    return q[18]


try:
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/health", timeout=2).read()
            break
        except OSError:
            time.sleep(0.5)
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    for _ in range(60):
        post(small)  # warm: profiles compiled, tiered JIT settled (fewer warm-ups left phase A slower than C)
    a = phase("A")
    big_result = {}
    worker = threading.Thread(target=lambda: big_result.update(zip(("seconds", "status"), post(big))))
    worker.start()
    time.sleep(1.0)  # the large request is being read and validated
    b = phase("B", keep_going=worker.is_alive)
    in_flight = worker.is_alive()
    worker.join()
    c = phase("C")
    print("phase\tsamples\tp50_ms\tp95_ms\tmax_ms")
    pa, pb, pc = describe("A baseline", a), describe("B large in flight", b), describe("C baseline again", c)
    print(f"large request: {args.totals} totals, {len(big)} bytes, {big_result.get('seconds', 0):.1f} s, HTTP {big_result.get('status')}"
          f"{'' if in_flight else ' (finished before phase B had all its samples)'}")
    print(f"p95 ratio (B / mean of A and C): {pb / ((pa + pc) / 2):.2f}  (goal ≤ 2)")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
finally:
    server.terminate()
    server.wait(30)
