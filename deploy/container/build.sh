#!/usr/bin/env bash
# Builds tensorbind's OCI image with podman (rootless or root), taking the package mirrors from
# this machine's own configuration (npm's registry, pip's index, apt's sources).
#   deploy/container/build.sh [TAG]          # default tag: localhost/tensorbind:latest
# Environment:
#   BASE=image        base image with Node.js and npm (default: node:24-bookworm-slim from Docker Hub)
#   LOCAL_BASE=1      no registry reachable: make the base here with mmdebstrap from apt's own sources,
#                     with this machine's Node.js copied in (automatic when Docker Hub cannot be reached)
#   WITH_TORCH=1      PyTorch in the image (TORCH_INDEX_URL picks the CPU or a CUDA build)
#   ARCHIVE=file.tar  also write the image as a docker-archive (what deploy/apptainer/tensorbind.def reads)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
tag=${1:-localhost/tensorbind:latest}
podman=(podman)
# cgroupfs: hosts without systemd, or with a hybrid cgroup layout, have no systemd cgroup manager.
podman=(podman --cgroup-manager=cgroupfs)

npm_registry=$(npm config get registry 2>/dev/null || true)
pip_index=${PIP_INDEX_URL:-$(pip config get global.index-url 2>/dev/null || true)}

base=${BASE:-}
if [ -z "$base" ]; then
  if [ "${LOCAL_BASE:-}" != 1 ] && timeout 20 "${podman[@]}" pull -q docker.io/library/node:24-bookworm-slim >/dev/null 2>&1; then
    base=docker.io/library/node:24-bookworm-slim
  else
    base=localhost/tensorbind-base:bookworm-node$(node --version | tr -d v)
    if ! "${podman[@]}" image exists "$base"; then
      echo "== base image: Debian bookworm from apt's own sources, with this machine's Node.js $(node --version)"
      sources=""
      for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do [ -f "$f" ] && { sources=$f; break; }; done
      [ -n "$sources" ] || { echo "no apt sources found to make the base image from" >&2; exit 1; }
      node_bin=$(readlink -f "$(command -v node)")
      npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
      work=$(mktemp -d)
      trap 'rm -rf "$work"' EXIT
      mmdebstrap --variant=apt --include=ca-certificates,libstdc++6 \
        --customize-hook="copy-in $node_bin /usr/local/bin" \
        --customize-hook="mkdir -p \$1/usr/local/lib/node_modules" \
        --customize-hook="copy-in $npm_dir /usr/local/lib/node_modules" \
        --customize-hook="chroot \$1 ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm" \
        --customize-hook="chroot \$1 ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx" \
        bookworm "$work/base.tar" "$sources"
      "${podman[@]}" import "$work/base.tar" "$base" >/dev/null
    fi
  fi
fi

echo "== image $tag from $base"
args=(--network host --isolation chroot -f deploy/container/Containerfile -t "$tag"
  --build-arg "BASE=$base" --build-arg "NPM_REGISTRY=$npm_registry" --build-arg "PIP_INDEX_URL=$pip_index"
  --build-arg "WITH_TORCH=${WITH_TORCH:-0}" --build-arg "TORCH_INDEX_URL=${TORCH_INDEX_URL:-}")
[ -d /etc/ssl/certs ] && args+=(-v /etc/ssl/certs:/run/host-certs:ro)
"${podman[@]}" build "${args[@]}" .
if [ -n "${ARCHIVE:-}" ]; then
  rm -f "$ARCHIVE"
  "${podman[@]}" save --format docker-archive -o "$ARCHIVE" "$tag"
  echo "wrote $ARCHIVE"
fi
