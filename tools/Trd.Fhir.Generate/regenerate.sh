#!/usr/bin/env bash
# Regenerates src/Trd.Fhir.Profiles/Generated/{core,snapshots}.pack from profiles/*.json and specification.zip.
# The build embeds the current profiles/*.json; the generator then works only from what it builds itself (the new
# core.pack is handed to the snapshot and prefetch-list steps), so one pass is enough. Commit Generated/ together with
# the profiles/*.json change that made it necessary. Exit code 1: a profile's snapshot could not be generated.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build tools/Trd.Fhir.Generate -c Release -v quiet -nologo >/dev/null
dotnet tools/Trd.Fhir.Generate/bin/Release/net10.0/Trd.Fhir.Generate.dll "$@"
