#!/usr/bin/env bash
# Put Debian's `prometheus` and `promtool` binaries into .tools/prometheus/ for the tests of
# deploy/ (test/integration/deploy-files.test.ts): promtool checks the scrape config and rules,
# and a real Prometheus scrapes a server and answers every query of the Grafana dashboard.
#
# The package is downloaded (`apt-get download`) and unpacked with `dpkg-deb -x`, not installed:
# no service is started and nothing outside .tools/ changes. Idempotent: a second run with the
# binaries in place does nothing. Needs Debian's package lists (runs `apt-get update` once if the
# download fails).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.tools/prometheus"
if [[ -x "$DEST/prometheus" && -x "$DEST/promtool" ]]; then exit 0; fi
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
cd "$T"
# _apt cannot write into a root-only temp dir; let it.
chmod 755 "$T"
if ! apt-get download -q prometheus >/dev/null 2>&1; then
	apt-get update -q >/dev/null
	apt-get download -q prometheus >/dev/null
fi
dpkg-deb -x prometheus_*.deb x
mkdir -p "$DEST"
cp x/usr/bin/prometheus x/usr/bin/promtool "$DEST/"
"$DEST/promtool" --version | head -1
