#!/usr/bin/env bash
# One tensorbind server per Slurm task (started by tensorbind.sbatch through srun).
#   server-task.sh JOBDIR MODULE [more serve arguments]
# Listens on all interfaces of its node. Ports: TENSORBIND_HTTP_PORT / _GRPC_PORT / _METRICS_PORT
# (default 0 = free ports, so several tasks can share a node). Once ready it writes
# JOBDIR/ready/task-N.json ({"http","grpc","metrics","pid"}) and JOBDIR/ready/task-N.node (the node
# name the load balancer should dial), which nginx-conf.sh reads.
set -euo pipefail
jobdir=$1
shift
id=${SLURM_PROCID:-0}
mkdir -p "$jobdir/ready" "$jobdir/logs"
hostname -f 2>/dev/null >"$jobdir/ready/task-$id.node" || hostname >"$jobdir/ready/task-$id.node"
export TENSORBIND_HOST=${TENSORBIND_HOST:-0.0.0.0}
export TENSORBIND_HTTP_PORT=${TENSORBIND_HTTP_PORT:-0}
export TENSORBIND_GRPC_PORT=${TENSORBIND_GRPC_PORT:-0}
export TENSORBIND_METRICS_PORT=${TENSORBIND_METRICS_PORT:-0}
# Balancers must see ready=false before the listener closes (see docs/DEPLOY.md, failover).
export TENSORBIND_SHUTDOWN_DELAY_MS=${TENSORBIND_SHUTDOWN_DELAY_MS:-3000}
# TENSORBIND may be several words (e.g. "apptainer exec --nv tensorbind.sif tensorbind"): split on purpose.
# shellcheck disable=SC2086
exec ${TENSORBIND:-tensorbind} serve "$@" --id "tensorbind-$id" --ready-file "$jobdir/ready/task-$id.json" \
  >"$jobdir/logs/task-$id.log" 2>&1
