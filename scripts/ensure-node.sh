#!/usr/bin/env bash
# Prints the bin/ directory of a Node.js that tensorbind supports (>= 22.12: SO_REUSEPORT for
# `workers`). When the node on PATH is older, fetches Node.js $TENSORBIND_NODE_MAJOR (default 24)
# by package name from the npm registry that npm is configured with (the registry publishes each
# release as node-<os>-<arch>, the packages behind the `node` package) into .tools/node-<major>/.
#   export PATH="$(bash scripts/ensure-node.sh):$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
supported() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null; }
if command -v node >/dev/null && supported node; then dirname "$(command -v node)"; exit 0; fi
major="${TENSORBIND_NODE_MAJOR:-24}"
dir=".tools/node-$major"
if ! { [ -x "$dir/bin/node" ] && supported "$dir/bin/node"; }; then
  os=$(uname -s | tr '[:upper:]' '[:lower:]'); arch=$(uname -m)
  case "$arch" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; esac
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-$os-$arch@$major" >/dev/null)
  tar -xzf "$tmp"/node-"$os"-"$arch"-*.tgz -C "$tmp"
  rm -rf "$dir"; mkdir -p "$dir"; cp -a "$tmp/package/." "$dir/"
  supported "$dir/bin/node" || { echo "ensure-node: $dir/bin/node is not >= 22.12" >&2; exit 1; }
  echo "ensure-node: fetched Node.js $("$dir/bin/node" --version) into $dir" >&2
fi
echo "$PWD/$dir/bin"
