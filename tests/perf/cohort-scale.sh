#!/usr/bin/env bash
# Cohort at increasing population sizes (issue 15 item 5). For each N: generates N synthetic patients in Bulk Data layout
# (tests/Trd.Fhir.IntegrationTests, PopulationGenerator, seed 42; not timed), runs `trd-fhir cohort` as its own process under
# /usr/bin/time, and prints N, resources, wall seconds, CPU seconds (user+sys), peak RSS, milliseconds per patient (wall and
# CPU), the time per patient as a ratio against the smallest N measured in the same run (1.00 = linear; on CPU time, which a
# loaded shared machine distorts far less than wall time), the 1-minute load average when it started, and whether the
# figures match the generator's truth.json exactly.
#
# Usage: tests/perf/cohort-scale.sh [N…]            (default: 10000 30000 100000; 100000 patients ≈ 3.9 million resources)
#   TRD_PERF_DIR=dir        keep the populations there and reuse one whose truth.json exists (default: a temporary directory)
#   TRD_PERF_GENERATE_ONLY=1   only generate (e.g. ahead of a quiet moment), measure nothing
# Needs a Release build (dotnet build Trd.Fhir.sln -c Release). Disk: about 37 MB per 1,000 patients for the population,
# as much again for cohort's temporary SQLite store, plus the protocols (deleted after each N).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${TRD_PERF_DIR:-$(mktemp -d)}"
mkdir -p "$work"
sizes=("$@"); [ ${#sizes[@]} -eq 0 ] && sizes=(10000 30000 100000)
dll="${TRD_FHIR_DLL:-$root/src/Trd.Fhir.Adapter/bin/Release/net10.0/trd-fhir.dll}"  # TRD_FHIR_DLL: measure a copied build
[ -f "$dll" ] || { echo "no Release build at $dll (run: dotnet build Trd.Fhir.sln -c Release)" >&2; exit 2; }

for n in "${sizes[@]}"; do
  dir="$work/pop-$n"
  if [ ! -f "$dir/truth.json" ]; then
    rm -rf "$dir"
    echo "generating $n patients in $dir …" >&2
    TRD_POPULATION_N=$n TRD_POPULATION_DIR="$dir" dotnet test "$root/tests/Trd.Fhir.IntegrationTests" -c Release --no-build \
      --filter "Category=PopulationBench" >/dev/null
  fi
done
[ "${TRD_PERF_GENERATE_ONLY:-0}" = 1 ] && exit 0

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/^Mem:/{print $2}') GB RAM, .NET $(dotnet --version)"
echo "load before: $(uptime)"
printf '%8s %10s %8s %8s %8s %13s %12s %9s %6s %s\n' N resources wall_s cpu_s peak_MB wall_ms/patient cpu_ms/patient cpu_ratio load1 truth
base=""
for n in "${sizes[@]}"; do
  dir="$work/pop-$n"
  resources=$(cat "$dir"/*.ndjson | wc -l)
  load=$(cut -d' ' -f1 /proc/loadavg)
  rm -rf "$work/protocols-$n"
  /usr/bin/time -f '%e %M %U %S' -o "$work/time-$n" dotnet "$dll" cohort "$dir" --format json --as-of 2026-12-01 \
    -o "$work/cohort-$n.json" --protocols "$work/protocols-$n" 2>"$work/stderr-$n" || true
  read -r wall rss user sys < "$work/time-$n"
  cpu=$(python3 -c "print(f'{$user+$sys:.2f}')")
  per=$(python3 -c "print(f'{1000*$wall/$n:.3f}')")
  cpuper=$(python3 -c "print(f'{1000*$cpu/$n:.3f}')")
  [ -z "$base" ] && base=$cpuper
  ratio=$(python3 -c "print(f'{$cpuper/$base:.2f}')")
  match=$(python3 - "$dir/truth.json" "$work/cohort-$n.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
try:
    c = json.load(open(sys.argv[2]))
except Exception as e:
    print("NO READ-OUT (" + str(e) + ")"); sys.exit()
pairs = [(t["Patients"], c["patients"]), (t["Phq9Assessments"], c["phq9"]["assessments"]), (t["Responders"], c["response"]["responders"]),
         (t["ResponseEvaluable"], c["response"]["evaluable"]), (t["Remitters"], c["remission"]["remitters"]), (t["WithPhq9"], c["remission"]["evaluable"]),
         (t["SignalAssessments"], c["safety"]["signalAssessments"]), (t["NeedsReview"], c["safety"]["patientsWithSignal"]), (t["Trd"], c["staging"]["trd"]),
         (t["ThaseRush"], c["staging"]["thaseRush"]), (t["Phases"], c["phases"]), (t["NoPhq9"], c["dataQuality"]["noPhq9"]), (t["Stale"], c["dataQuality"]["stalePhq9"])]
for key, path in [("Maudsley", ("staging", "maudsley")), ("Adherence", ("adherence", "courses")), ("PatientsBehind", ("adherence", "patientsBehind"))]:
    if key in t:
        pairs.append((t[key], c[path[0]][path[1]]))
print("exact" if all(a == b for a, b in pairs) else "MISMATCH " + str([p for p in pairs if p[0] != p[1]]))
PY
)
  printf '%8s %10s %8s %8s %8s %13s %12s %9s %6s %s\n' "$n" "$resources" "$wall" "$cpu" "$((rss / 1024))" "$per" "$cpuper" "$ratio" "$load" "$match"
  rm -rf "$work/protocols-$n"
done
echo "load after: $(uptime)"
