#!/usr/bin/env bash
# Warm throughput on the mixed corpus of the golden Bundles (issue 13 item 3): raw Firely loop, TrdValidator with the full
# engine and with the fast path (shape memo), 1 thread and all cores, interleaved rounds in one process; then a corpus of
# distinct resources (--distinct N copies of every golden entry, each seen once, memo cold at the start). Ends with two
# tables (medians, ratios vs raw Firely 1 thread, CPU per resource). Prints load average before/after.
#   tests/perf/throughput.sh [--seconds S] [--rounds R] [--distinct N (default 10; 0 = skip)]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build "$repo/tests/Trd.Fhir.Benchmarks" -c Release --nologo -v quiet -clp:ErrorsOnly
echo "uptime: $(uptime)"
TRD_REPO="$repo" dotnet "$repo/tests/Trd.Fhir.Benchmarks/bin/Release/net10.0/Trd.Fhir.Benchmarks.dll" throughput "$@"
echo "uptime: $(uptime)"
