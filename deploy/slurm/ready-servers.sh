#!/usr/bin/env bash
# Lists the ready servers of a job, one per line: "TASK NODE HTTP_PORT GRPC_PORT".
#   ready-servers.sh JOBDIR
# Reads JOBDIR/ready/task-N.json ({"http":"http://0.0.0.0:41234","grpc":"0.0.0.0:41235",…}) and
# task-N.node (the node's name), which server-task.sh writes; the balancer generators read this.
set -euo pipefail
jobdir=$1
found=0
for ready in "$jobdir"/ready/task-*.json; do
  [ -f "$ready" ] || continue
  found=1
  echo "$(basename "$ready" .json) $(cat "${ready%.json}.node")" \
    "$(sed -E 's/.*"http":"[^"]*:([0-9]+)".*/\1/' "$ready")" \
    "$(sed -E 's/.*"grpc":"[^"]*:([0-9]+)".*/\1/' "$ready")"
done
[ $found = 1 ] || { echo "no ready servers under $jobdir/ready" >&2; exit 1; }
