#!/usr/bin/env bash
# Cost against size (issue 13 item 1): protocols with N PHQ-9 totals (default 500 1000 4000 10000; each total becomes a
# panel + a total Observation, so a Bundle holds 2N+18 entries), mapped with `trd-fhir map --no-validate` (process CPU
# measured: mapping must be linear too), then each Bundle validated in one process by a warm TrdValidator and — up to
# --baseline-max-entries (default 2100: its cost is quadratic) — by the raw Firely validator on the whole Bundle.
#   tests/perf/linear-scale.sh [N…]
# Needs /usr/bin/time. Writes under ${TMPDIR:-/tmp}/trd-perf/linear-scale.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${TMPDIR:-/tmp}/trd-perf/linear-scale"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(500 1000 4000 10000)
rm -rf "$work" && mkdir -p "$work"
dotnet build "$repo/src/Trd.Fhir.Adapter" -c Release --nologo -v quiet -clp:ErrorsOnly
dotnet build "$repo/tests/Trd.Fhir.Benchmarks" -c Release --nologo -v quiet -clp:ErrorsOnly
trd="$repo/src/Trd.Fhir.Adapter/bin/Release/net10.0/trd-fhir.dll"
echo "uptime: $(uptime)"
echo -e "totals\tmap_wall_s\tmap_cpu_s\tmax_rss_kb\tbytes"
bundles=()
for n in "${sizes[@]}"; do
  python3 "$repo/tests/perf/gen-protocol.py" "$n" "$work/p$n.json"
  /usr/bin/time -f "%e %U %S %M" -o "$work/map$n.time" dotnet "$trd" map "$work/p$n.json" --no-validate -o "$work/p$n.bundle.json" 2>/dev/null
  read -r wall user sys rss < "$work/map$n.time"
  echo -e "$n\t$wall\t$(python3 -c "print(round($user+$sys,2))")\t$rss\t$(stat -c %s "$work/p$n.json")"
  bundles+=("$work/p$n.bundle.json")
done
dotnet "$repo/tests/Trd.Fhir.Benchmarks/bin/Release/net10.0/Trd.Fhir.Benchmarks.dll" scale "${bundles[@]}"
echo "uptime: $(uptime)"
