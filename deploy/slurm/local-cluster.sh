#!/usr/bin/env bash
# A one-node Slurm cluster (munge + slurmctld + slurmd) in a folder, for trying tensorbind.sbatch on a
# workstation and for CI. Needs Debian's slurm-wlm and munge (root, or a user who may start them).
#   local-cluster.sh start DIR   # then: export SLURM_CONF=DIR/slurm.conf; sbatch ...
#   local-cluster.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}
dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
node=$(hostname -s)

stop() {
  for pidfile in slurmd.pid slurmctld.pid munged.pid; do
    if [ -f "$dir/$pidfile" ]; then kill "$(cat "$dir/$pidfile" 2>/dev/null)" 2>/dev/null || true; fi
  done
  for _ in $(seq 1 50); do
    alive=0
    for pidfile in slurmd.pid slurmctld.pid munged.pid; do
      [ -f "$dir/$pidfile" ] && kill -0 "$(cat "$dir/$pidfile" 2>/dev/null)" 2>/dev/null && alive=1
    done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  rm -f "$dir"/*.pid
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

case "$cmd" in
stop) stop ;;
start)
  stop
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
  chmod 700 "$dir/munge"
  [ -f "$dir/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" 2>/dev/null; chmod 400 "$dir/munge/munge.key"; }
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed"
  user=$(id -un)
  # Claim 8 CPUs whatever the machine has, so several servers fit on a small workstation.
  cat >"$dir/slurm.conf" <<CONF
ClusterName=tensorbind-local
SlurmctldHost=$node
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=$user
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
NodeName=$node CPUs=8 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$dir/slurm.conf"
  slurmd -f "$dir/slurm.conf"
  for _ in $(seq 1 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "Slurm ready: export SLURM_CONF=$dir/slurm.conf"
      exit 0
    fi
    sleep 0.2
  done
  echo "Slurm did not come up; logs in $dir/slurmctld.log, $dir/slurmd.log" >&2
  sinfo >&2 || true
  exit 1
  ;;
*) echo "usage: local-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
