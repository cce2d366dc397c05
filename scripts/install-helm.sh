#!/usr/bin/env bash
# Builds Helm from its Go module (through the Go module proxy this machine is configured with)
# into .tools/bin/helm, for the chart tests (test/integration/deploy-helm.test.ts). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=v4.3.2
BIN="$ROOT/.tools/bin"
if [ -x "$BIN/helm" ] && "$BIN/helm" version --short 2>/dev/null | grep -q "${VERSION%.*}"; then exit 0; fi
command -v go >/dev/null || { echo "install-helm: Go is needed to build Helm (or put a helm binary at $BIN/helm)" >&2; exit 1; }
mkdir -p "$BIN"
GOBIN="$BIN" go install "helm.sh/helm/v4/cmd/helm@$VERSION"
"$BIN/helm" version --short
