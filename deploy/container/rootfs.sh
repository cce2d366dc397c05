#!/usr/bin/env bash
# Unpacks an image's root filesystem into a folder, with its environment in DIR.env — what
# Apptainer makes of an OCI image (a read-only tree plus the image's ENV), so the image can be
# run unprivileged with bubblewrap (test/integration/deploy-image.test.ts) or inspected.
#   deploy/container/rootfs.sh [TAG] DIR
set -euo pipefail
if [ $# -ge 2 ]; then tag=$1 dir=$2; else tag=localhost/tensorbind:latest dir=${1:?DIR}; fi
podman=(podman --cgroup-manager=cgroupfs)
rm -rf "$dir" "$dir.env"
mkdir -p "$dir"
id=$("${podman[@]}" create "$tag")
trap '"${podman[@]}" rm -f "$id" >/dev/null' EXIT
"${podman[@]}" export "$id" | tar -x -C "$dir" --exclude='dev/*'
"${podman[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$tag" | sed '/^$/d' >"$dir.env"
echo "root filesystem of $tag in $dir ($(du -sh "$dir" | cut -f1)), environment in $dir.env"
