#!/usr/bin/env bash
# Whole-process cold-start measurement (docs/decisions/001-validator-cold-start.md).
# Builds a private copy of the Profiles library with the test profiles embedded as if they were profiles/*.json
# (so the pre-generated-snapshot path is measured too), publishes the harness plain (JIT) and ReadyToRun, and times
# each variant with hyperfine. Usage: tools/Trd.Fhir.ColdStart/measure.sh [runs] [grep-filter-on-variant]
# (needs: apt-get install hyperfine). The textbook variant takes ~20-40 s per run.
set -euo pipefail
runs="${1:-10}"
filter="${2:-.}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${TMPDIR:-/tmp}/trd-coldstart-measure"
rm -rf "$work" && mkdir -p "$work/profiles" "$work/src" "$work/tools"
cp "$repo"/{Directory.Build.props,Directory.Packages.props,BannedSymbols.txt,global.json,.editorconfig} "$work/"
cp -r "$repo/src/Trd.Fhir.Profiles" "$work/src/" && rm -rf "$work/src/Trd.Fhir.Profiles/"{bin,obj}
cp -r "$repo/tools/Trd.Fhir.ColdStart" "$repo/tools/Trd.Fhir.Generate" "$work/tools/"
rm -rf "$work"/tools/*/{bin,obj}
cp "$repo"/profiles/*.json "$work/profiles/" 2>/dev/null || true
cp "$repo"/tests/Trd.Fhir.Profiles.Tests/TestData/profiles/*.json "$work/profiles/"
touch "$work/Trd.Fhir.sln"
# A real PHQ-9 total when profiles/ has one, else the test profile's instance.
instance="${INSTANCE:-$repo/profiles/examples/trd-observation-phq9-total.valid.json}"
[ -f "$instance" ] || instance="$repo/tests/Trd.Fhir.Profiles.Tests/TestData/instances/one-observation.json"

# Regenerate the packs for the embedded test profiles (twice: the second run reads the fresh core.pack).
for _ in 1 2; do dotnet run --project "$work/tools/Trd.Fhir.Generate" -c Release >/dev/null; done
dotnet publish "$work/tools/Trd.Fhir.ColdStart" -c Release -o "$work/jit" >/dev/null
dotnet publish "$work/tools/Trd.Fhir.ColdStart" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/r2r" >/dev/null

cmds=(
  "$work/jit/Trd.Fhir.ColdStart $instance --variant textbook --profiles $work/profiles --quiet"
  "$work/jit/Trd.Fhir.ColdStart $instance --variant split --profiles $work/profiles --quiet"
  "$work/jit/Trd.Fhir.ColdStart $instance --no-slice --no-pregen --quiet"
  "$work/jit/Trd.Fhir.ColdStart $instance --no-pregen --quiet"
  "$work/jit/Trd.Fhir.ColdStart $instance --quiet"
  "$work/r2r/Trd.Fhir.ColdStart $instance --no-slice --no-pregen --quiet"
  "$work/r2r/Trd.Fhir.ColdStart $instance --quiet"
  "$work/r2r/Trd.Fhir.ColdStart $instance --no-prefetch --quiet"
  "env DOTNET_TieredPGO=0 $work/r2r/Trd.Fhir.ColdStart $instance --quiet"
  "env DOTNET_TC_QuickJitForLoops=1 DOTNET_OSR_HitLimit=0 DOTNET_TieredPGO=0 DOTNET_ReadyToRun=1 $work/r2r/Trd.Fhir.ColdStart $instance --quiet"
  "env DOTNET_TieredCompilation=0 $work/r2r/Trd.Fhir.ColdStart $instance --quiet"
)
for c in "${cmds[@]}"; do
  echo "$c" | grep -qE -- "$filter" || continue
  echo "== $c" | sed "s#$work/##g"
  # one untimed run first: page cache, and the split/textbook chains' one-time zip extraction
  $c >/dev/null 2>&1 || true
  hyperfine -N -i -r "$runs" --export-json "$work/last.json" "$c" 2>/dev/null | grep -E "Time|Range" || true
  /usr/bin/time -f "   max RSS %M KB" $c 2>&1 >/dev/null | tail -1
done
