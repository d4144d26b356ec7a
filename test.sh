#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs every test project.
#   - tests/fhir-server: the real FHIR server the integration tests talk to (Medplum's engine on Node 22, from npm)
set -euo pipefail
cd "$(dirname "$0")"
npm ci --prefix tests/fhir-server --no-audit --no-fund --loglevel=error
dotnet test Trd.Fhir.sln -c Release "$@"
