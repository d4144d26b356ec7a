#!/usr/bin/env bash
# NDJSON streaming: generates a large NDJSON of PHQ-9 total Observations (9 valid : 1 invalid (total 30), plus one
# line of broken JSON per 10,000), validates it with `trd-fhir validate`, and reports peak RSS (/usr/bin/time -v) and
# throughput. The same run on a file a tenth of the size is the baseline: memory is flat when the two peaks match.
#   tests/perf/ndjson-memory.sh [size-MB=200]
# Needs /usr/bin/time (apt-get install time) and jq. Writes under ${TMPDIR:-/tmp}/trd-perf.
set -euo pipefail
size_mb="${1:-200}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${TMPDIR:-/tmp}/trd-perf/ndjson"
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time: apt-get install -y time" >&2; exit 2; }

dotnet publish "$repo/src/Trd.Fhir.Adapter" -c Release -o "$work/trd" >/dev/null
# Passed through the environment: awk -v would turn the template's \" escapes into bare quotes.
TEMPLATE="$(jq -c . "$repo/profiles/examples/trd-observation-phq9-total.valid.json")"
export TEMPLATE

generate() { # MB file
  local bytes=$(( $1 * 1024 * 1024 ))
  LC_ALL=C awk -v limit="$bytes" 'BEGIN {
    t = ENVIRON["TEMPLATE"]
    n = 0; written = 0
    while (written < limit) {
      n++
      line = t
      sub(/"id":"[^"]*"/, "\"id\":\"phq9-total-" n "\"", line)
      if (n % 10000 == 0) line = "{\"resourceType\":\"Observation\",\"id\":\"broken-" n "\","
      else if (n % 10 == 0) sub(/"value":17/, "\"value\":30", line)
      print line
      written += length(line) + 1
    }
  }' > "$2"
}

run() { # file label
  local lines
  lines=$(wc -l < "$1")
  /usr/bin/time -v -o "$work/$2.time" "$work/trd/trd-fhir" validate "$1" > "$work/$2.out" 2>"$work/$2.err" || true
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/$2.time")
  rss=$(awk -F': ' '/Maximum resident set size/ { print int($2 / 1024) }' "$work/$2.time")
  printf "%-10s %8d MB %9d lines %8.1f s %8.0f lines/s   peak RSS %5d MB   exit %s   %s\n" "$2" "$(( $(stat -c %s "$1") / 1024 / 1024 ))" "$lines" "$wall" \
    "$(awk -v l="$lines" -v w="$wall" 'BEGIN { print l / w }')" "$rss" "$(awk '/Exit status/ { print $3 }' "$work/$2.time")" "$(tail -1 "$work/$2.out")"
}

generate $(( size_mb / 10 )) "$work/small.ndjson"
generate "$size_mb" "$work/large.ndjson"
echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
run "$work/small.ndjson" small
run "$work/large.ndjson" large
grep -m3 ':10000:' "$work/large.out" || true
