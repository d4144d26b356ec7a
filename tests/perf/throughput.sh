#!/usr/bin/env bash
# Warm throughput on the mixed corpus of the golden Bundles (issue 13 item 3): raw Firely loop vs TrdValidator, 1 thread
# and all cores, interleaved rounds in one process (tests/Trd.Fhir.Benchmarks throughput). Prints load average before/after.
#   tests/perf/throughput.sh [--seconds S] [--rounds R]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build "$repo/tests/Trd.Fhir.Benchmarks" -c Release --nologo -v quiet -clp:ErrorsOnly
echo "uptime: $(uptime)"
TRD_REPO="$repo" dotnet "$repo/tests/Trd.Fhir.Benchmarks/bin/Release/net10.0/Trd.Fhir.Benchmarks.dll" throughput "$@"
echo "uptime: $(uptime)"
