#!/usr/bin/env bash
# The main job on the bundled examples: map every protocol in examples/ to a FHIR R4 transaction Bundle (out/bundles),
# read each Bundle back to a protocol document (out/protocols) and check the round trip gives the same document.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build src/Trd.Fhir.Adapter -c Release --nologo -v quiet
trd() { dotnet src/Trd.Fhir.Adapter/bin/Release/net10.0/trd-fhir.dll "$@"; }
mkdir -p out/bundles out/protocols
echo "== map: protocol → FHIR transaction Bundle"
trd map examples --out-dir out/bundles 2> out/map-warnings.txt
echo "   ($(grep -c SafetySignal out/map-warnings.txt || true) PHQ-9 item-9 safety signals; details in out/map-warnings.txt)"
echo "== map --reverse: Bundle → protocol, round trip"
status=0
for bundle in out/bundles/*.bundle.json; do
  name=$(basename "$bundle" .bundle.json)
  trd map --reverse "$bundle" -o "out/protocols/$name.json"
  if cmp -s "examples/$name.json" "out/protocols/$name.json"; then
    echo "   $name: round trip equal"
  else
    echo "   $name: round trip DIFFERS (diff examples/$name.json out/protocols/$name.json)"; status=1
  fi
done
exit $status
