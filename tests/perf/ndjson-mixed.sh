#!/usr/bin/env bash
# NDJSON of mixed TRD resources at population scale (issue 13 item 4): generates it (gen-mixed-ndjson.py: every golden
# Bundle entry as a template, one synthetic patient per 40 copies, relative references, shifted dates, 1 line in 10
# invalid, 1 in 10,000 broken JSON), validates it with `trd-fhir validate` and reports peak RSS (/usr/bin/time -v) and
# lines/s. Baselines in the same run: the same command on a file a tenth of the size (memory is flat when the peaks
# match) and, on that small file, the full Firely engine (`--full-engine`: the fast path off) for the throughput ratio.
#   tests/perf/ndjson-mixed.sh [size-MB=1024]
# Needs /usr/bin/time (apt-get install time) and python3. Writes under ${TMPDIR:-/tmp}/trd-perf/ndjson-mixed.
set -euo pipefail
size_mb="${1:-1024}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${TMPDIR:-/tmp}/trd-perf/ndjson-mixed"
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install -y time" >&2; exit 2; }

dotnet publish "$repo/src/Trd.Fhir.Adapter" -c Release -o "$work/trd" >/dev/null
[ -s "$work/small.ndjson" ] || python3 "$repo/tests/perf/gen-mixed-ndjson.py" "$work/small.ndjson" $(( size_mb / 10 ))
[ -s "$work/large.ndjson" ] || python3 "$repo/tests/perf/gen-mixed-ndjson.py" "$work/large.ndjson" "$size_mb"

run() { # file label [options]
  local file="$1" label="$2"; shift 2
  local lines load
  lines=$(wc -l < "$file")
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -v -o "$work/$label.time" "$work/trd/trd-fhir" validate "$file" "$@" > "$work/$label.out" 2>"$work/$label.err" || true
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/$label.time")
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$work/$label.time")
  rss=$(awk -F': ' '/Maximum resident set size/ { print int($2 / 1024) }' "$work/$label.time")
  printf "| %s | %d MB | %d | %.1f s | %.1f s | %.0f | %.0f | %d MB | %s | %s | %s |\n" "$label" "$(( $(stat -c %s "$file") / 1024 / 1024 ))" "$lines" "$wall" "$cpu" \
    "$(awk -v l="$lines" -v w="$wall" 'BEGIN { print l / w }')" "$(awk -v l="$lines" -v c="$cpu" 'BEGIN { print l / c }')" "$rss" \
    "$(awk '/Exit status/ { print $3 }' "$work/$label.time")" "$load" "$(tail -1 "$work/$label.out")"
}

echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
echo "| run | size | lines | wall | CPU (user+sys) | lines/s (wall) | lines per CPU-s | peak RSS | exit | load at start | summary |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
run "$work/small.ndjson" "small, full engine" --full-engine
run "$work/small.ndjson" "small"
run "$work/large.ndjson" "large"
