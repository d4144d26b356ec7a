#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs every test project.
#   - tests/fhir-server: the real FHIR server the integration tests talk to (Medplum's engine on Node 22, from npm)
#   - /usr/bin/chromium: Debian's Chromium, for tests/Trd.Fhir.Report.Tests (the clinical report rendered headless, offline)
#   - Debian's PostgreSQL server binaries (/usr/lib/postgresql/N/bin): the shared-ledger tests start a throwaway cluster on
#     127.0.0.1 from them (tests/Trd.Fhir.IntegrationTests/Ledger/PostgresFixture.cs); the package's own service is not used
set -euo pipefail
cd "$(dirname "$0")"
npm ci --prefix tests/fhir-server --no-audit --no-fund --loglevel=error
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || { sudo -n true 2>/dev/null && SUDO=sudo; }
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || { sudo -n true 2>/dev/null && SUDO=sudo; }
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
dotnet test Trd.Fhir.sln -c Release "$@"
