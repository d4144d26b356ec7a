#!/usr/bin/env bash
# Cohort at increasing population sizes: generates N synthetic patients in Bulk Data layout (tests/Trd.Fhir.IntegrationTests,
# PopulationGenerator), runs `trd-fhir cohort` as its own process under /usr/bin/time, and prints N, resources, wall seconds,
# peak RSS and whether the figures match the generator's truth.json exactly.
# Usage: tests/perf/cohort-scale.sh [N…]   (default: 1000 4000 16000). Needs a Release build of the solution.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${TRD_PERF_DIR:-$(mktemp -d)}"
sizes=("$@"); [ ${#sizes[@]} -eq 0 ] && sizes=(1000 4000 16000)
dll="$root/src/Trd.Fhir.Adapter/bin/Release/net10.0/trd-fhir.dll"
echo "load before: $(uptime)"
printf '%8s %10s %9s %10s %s\n' N resources wall_s peak_MB truth
for n in "${sizes[@]}"; do
  dir="$work/pop-$n"; rm -rf "$dir"
  TRD_POPULATION_N=$n TRD_POPULATION_DIR="$dir" dotnet test "$root/tests/Trd.Fhir.IntegrationTests" -c Release --no-build \
    --filter "Category=PopulationBench" >/dev/null
  resources=$(cat "$dir"/*.ndjson | wc -l)
  /usr/bin/time -f '%e %M' -o "$work/time-$n" dotnet "$dll" cohort "$dir" --format json --as-of 2026-12-01 \
    -o "$work/cohort-$n.json" --protocols "$work/protocols-$n" 2>/dev/null || true
  read -r wall rss < "$work/time-$n"
  match=$(python3 - "$dir/truth.json" "$work/cohort-$n.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
pairs = [(t["Patients"], c["patients"]), (t["Phq9Assessments"], c["phq9"]["assessments"]), (t["Responders"], c["response"]["responders"]),
         (t["ResponseEvaluable"], c["response"]["evaluable"]), (t["Remitters"], c["remission"]["remitters"]), (t["WithPhq9"], c["remission"]["evaluable"]),
         (t["SignalAssessments"], c["safety"]["signalAssessments"]), (t["NeedsReview"], c["safety"]["patientsWithSignal"]), (t["Trd"], c["staging"]["trd"]),
         (t["ThaseRush"], c["staging"]["thaseRush"]), (t["Phases"], c["phases"]), (t["NoPhq9"], c["dataQuality"]["noPhq9"]), (t["Stale"], c["dataQuality"]["stalePhq9"])]
print("exact" if all(a == b for a, b in pairs) else "MISMATCH " + str([p for p in pairs if p[0] != p[1]]))
PY
)
  printf '%8s %10s %9s %10s %s\n' "$n" "$resources" "$wall" "$((rss / 1024))" "$match"
  rm -rf "$work/protocols-$n"
done
echo "load after: $(uptime)"
