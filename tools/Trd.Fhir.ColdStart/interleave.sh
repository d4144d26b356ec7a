#!/usr/bin/env bash
# Interleaved whole-process timing: runs each variant once per round, N rounds, so that load from other processes on the
# machine hits every variant alike. Prints min / median wall and median user+sys CPU per variant.
#   interleave.sh ROUNDS "label|command" "label|command" ...
set -euo pipefail
rounds="$1"; shift
out="$(mktemp -d)"
for ((r = 1; r <= rounds; r++)); do
  i=0
  for v in "$@"; do
    cmd="${v#*|}"
    /usr/bin/time -f "%e %U %S %M" -o "$out/t" bash -c "$cmd" >/dev/null 2>&1 || true
    cat "$out/t" >> "$out/$i"
    i=$((i + 1))
  done
done
i=0
printf "%-44s %9s %9s %12s %9s\n" variant "min wall" "med wall" "med usr+sys" "max RSS"
for v in "$@"; do
  n=$(wc -l < "$out/$i"); mid=$(( (n + 1) / 2 ))
  minw=$(cut -d' ' -f1 "$out/$i" | sort -g | head -1)
  medw=$(cut -d' ' -f1 "$out/$i" | sort -g | sed -n "${mid}p")
  medc=$(awk '{ print $2 + $3 }' "$out/$i" | sort -g | sed -n "${mid}p")
  rss=$(cut -d' ' -f4 "$out/$i" | sort -g | tail -1)
  printf "%-44s %8.2fs %8.2fs %11.2fs %7d MB\n" "${v%%|*}" "$minw" "$medw" "$medc" $((rss / 1024))
  i=$((i + 1))
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out"
