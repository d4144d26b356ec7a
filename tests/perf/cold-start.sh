#!/usr/bin/env bash
# Whole-process cold start: `trd-fhir validate one-observation.json` from process start to exit, against the textbook
# Firely console baseline (tests/Trd.Fhir.Benchmarks textbook-cold: CachedResolver(SnapshotSource(MultiResolver(
# DirectorySource(profiles), ZipSource)))) validating the same file. Both Release builds, run interleaved (one of each
# per round) so that machine load hits both alike; prints median / min wall, median user+sys CPU, max RSS and the ratio.
#   tests/perf/cold-start.sh [rounds=7] [instance.json]
# Needs /usr/bin/time (apt-get install time). Writes under ${TMPDIR:-/tmp}/trd-perf.
set -euo pipefail
rounds="${1:-7}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${TMPDIR:-/tmp}/trd-perf/cold-start"
rm -rf "$work" && mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install -y time" >&2; exit 2; }

dotnet publish "$repo/src/Trd.Fhir.Adapter" -c Release -o "$work/trd" >/dev/null
# The CLI's release setting (docs/decisions/001-validator-cold-start.md): ReadyToRun.
dotnet publish "$repo/src/Trd.Fhir.Adapter" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/trd-r2r" >/dev/null
dotnet publish "$repo/tests/Trd.Fhir.Benchmarks" -c Release -o "$work/bench" >/dev/null
instance="$work/one-observation.json"
cp "${2:-$repo/profiles/examples/trd-observation-phq9-total.valid.json}" "$instance"

trd=("$work/trd/trd-fhir" validate "$instance")
r2r=("$work/trd-r2r/trd-fhir" validate "$instance")
textbook=("$work/bench/Trd.Fhir.Benchmarks" textbook-cold "$instance" --profiles "$repo/profiles")
# One untimed run of each: page cache, and the textbook ZipSource's one-time extraction of specification.zip.
"${trd[@]}" >/dev/null
"${r2r[@]}" >/dev/null
"${textbook[@]}" >/dev/null

for ((r = 1; r <= rounds; r++)); do
  /usr/bin/time -f "%e %U %S %M" -a -o "$work/trd.times" "${trd[@]}" >/dev/null
  /usr/bin/time -f "%e %U %S %M" -a -o "$work/r2r.times" "${r2r[@]}" >/dev/null
  /usr/bin/time -f "%e %U %S %M" -a -o "$work/textbook.times" "${textbook[@]}" >/dev/null
done

stats() { # file -> "median_wall min_wall median_cpu max_rss_mb"
  local n mid
  n=$(wc -l < "$1"); mid=$(( (n + 1) / 2 ))
  printf "%s %s %s %s\n" \
    "$(cut -d' ' -f1 "$1" | sort -g | sed -n "${mid}p")" \
    "$(cut -d' ' -f1 "$1" | sort -g | head -1)" \
    "$(awk '{ printf "%.2f\n", $2 + $3 }' "$1" | sort -g | sed -n "${mid}p")" \
    "$(( $(cut -d' ' -f4 "$1" | sort -g | tail -1) / 1024 ))"
}
read -r tm tmin tc trss < <(stats "$work/trd.times")
read -r rm rmin rc rrss < <(stats "$work/r2r.times")
read -r bm bmin bc brss < <(stats "$work/textbook.times")
echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM; $rounds rounds; instance $(basename "${2:-trd-observation-phq9-total.valid.json}")"
printf "%-34s %10s %9s %12s %9s\n" variant "med wall" "min wall" "med usr+sys" "max RSS"
printf "%-34s %9.2fs %8.2fs %11.2fs %6d MB\n" "trd-fhir validate (JIT)" "$tm" "$tmin" "$tc" "$trss"
printf "%-34s %9.2fs %8.2fs %11.2fs %6d MB\n" "trd-fhir validate (ReadyToRun)" "$rm" "$rmin" "$rc" "$rrss"
printf "%-34s %9.2fs %8.2fs %11.2fs %6d MB\n" "textbook Firely console (baseline)" "$bm" "$bmin" "$bc" "$brss"
awk -v a="$bm" -v b="$tm" -v r="$rm" -v ac="$bc" -v bc="$tc" -v rc="$rc" 'BEGIN {
  printf "speed-up, baseline / trd-fhir: median wall %.1fx (JIT), %.1fx (ReadyToRun); CPU %.1fx (JIT), %.1fx (ReadyToRun)\n", a / b, a / r, ac / bc, ac / rc }'
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
