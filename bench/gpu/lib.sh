# bench/gpu/lib.sh: what the bench/gpu/*.sh scripts share. The device machine has no Node.js, no
# pyzmq and no network: a node binary, node_modules, wheels and perf_analyzer come in .gpu-carry
# (bench/gpu/make-carry.sh, traccc-carry.sh, carry-perf-analyzer.sh). From the repository root:
#   . bench/gpu/lib.sh
#   gpu_prelude native            # OUT, CARRY, T=/tmp/tb-native, output also to $OUT/run.log
#   unpack_node || fail "no node in $CARRY"
# Sourcing it defines functions and nothing else.

# gpu_prelude NAME [LOG]: OUT (default ./gpu-out), CARRY (default .gpu-carry), a fresh scratch
# T=/tmp/tb-NAME with bin/ and site/, everything printed also appended to $OUT/LOG (default
# run.log), a server started by serve_until_ready stopped whatever ends the script, and the
# machine described.
gpu_prelude() {
  OUT="${OUT:-$PWD/gpu-out}"; mkdir -p "$OUT"
  CARRY="${CARRY:-.gpu-carry}"
  T="/tmp/tb-$1"; rm -rf "$T"; mkdir -p "$T/bin" "$T/site"
  SPID=
  exec > >(tee -a "$OUT/${2:-run.log}") 2>&1
  trap '_gpu_on_exit' EXIT
  echo "== machine"; date -u; uname -a; nproc
}

_gpu_on_exit() {
  if [ -n "${SPID:-}" ]; then kill -TERM "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; fi
}

# fail MESSAGE: says so, also in $OUT/summary.txt, and exits 1.
fail() {
  echo "FAILED: $*"
  echo "FAILED: $*" >> "$OUT/summary.txt"
  exit 1
}

# cuda_on_path: puts the machine's nvcc on PATH when it is not there yet.
cuda_on_path() {
  command -v nvcc >/dev/null && return 0
  local d
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    if [ -x "$d/nvcc" ]; then export PATH="$PATH:$d"; return 0; fi
  done
  return 1
}

# unpack_node: the carried node binary onto PATH (unless the machine has Node.js 20 or newer)
# and the carried node_modules (unless there is one). Returns 1 when they are not carried.
unpack_node() {
  if ! command -v node >/dev/null ||
    ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
    if ! { xz -dc "$CARRY/node.xz" > "$T/bin/node" && chmod +x "$T/bin/node"; }; then
      echo "no node in $CARRY (bench/gpu/make-carry.sh)"; return 1
    fi
    export PATH="$T/bin:$PATH"
  fi
  [ -d node_modules ] || tar -xzf "$CARRY/node_modules.tar.gz" -C . ||
    { echo "no node_modules in $CARRY (bench/gpu/make-carry.sh)"; return 1; }
  echo "node $(node --version)"
}

# unpack_wheels DIR [MODULE]: installs the wheels of $CARRY/DIR into $T/site (unless Python can
# already import MODULE) and puts $T/site on PYTHONPATH. Returns 1 when that fails.
unpack_wheels() {
  if [ -z "${2:-}" ] || ! python3 -c "import $2" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$T/site" "$CARRY/$1"/*.whl ||
      { echo "no wheels in $CARRY/$1"; return 1; }
  fi
  export PYTHONPATH="$T/site${PYTHONPATH:+:$PYTHONPATH}"
}

# unpack_perf_analyzer: PA and PERF_ANALYZER name a perf_analyzer that answers --version:
# $PERF_ANALYZER, or the one carried in $CARRY/perf-analyzer.tar.xz (bench/gpu/carry-perf-analyzer.sh).
# Returns 1 (PA empty) when there is none.
unpack_perf_analyzer() {
  PA="${PERF_ANALYZER:-}"
  if [ -z "$PA" ] && [ -s "$CARRY/perf-analyzer.tar.xz" ]; then
    xz -dc "$CARRY/perf-analyzer.tar.xz" | tar -x -C "$T" || { echo "perf_analyzer: unpack failed"; PA=; return 1; }
    local h="$T/perf-analyzer" l="$T/perf-analyzer/glibc/usr/lib/x86_64-linux-gnu"
    # The same launch as scripts/install-perf-analyzer.sh's wrapper: the wheel's binary needs a newer glibc
    # (and --shared-memory loads libcudart: the toolkit's is on the path).
    printf '#!/bin/sh\nexec "%s/ld-linux-x86-64.so.2" --library-path "%s:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/local/cuda/lib64" "%s/wheel/perf_analyzer/bin/perf_analyzer" "$@"\n' \
      "$l" "$l" "$h" > "$T/perf_analyzer"
    chmod +x "$T/perf_analyzer"; PA="$T/perf_analyzer"
  fi
  if [ -z "$PA" ] || ! "$PA" --version >/dev/null 2>&1; then PA=; return 1; fi
  export PERF_ANALYZER="$PA"
}

# serve_until_ready READY_FILE LOG SECONDS COMMAND...: starts COMMAND (a server that writes
# READY_FILE once it serves; `env VAR=… node …` for its environment) in the background, output
# to LOG, its pid in SPID, and waits for READY_FILE. Returns 1, with the end of LOG, when the
# server exits first or is not ready within SECONDS (then it is stopped).
serve_until_ready() {
  local ready="$1" log="$2" secs="$3" i
  shift 3
  rm -f "$ready"
  "$@" > "$log" 2>&1 &
  SPID=$!
  for ((i = 0; i < secs * 20; i++)); do
    [ -s "$ready" ] && return 0
    if ! kill -0 "$SPID" 2>/dev/null; then
      wait "$SPID"; echo "server exited ($?) before ready; the end of $log:"; tail -50 "$log"
      SPID=; return 1
    fi
    sleep 0.05
  done
  echo "server not ready in $secs s; the end of $log:"; tail -50 "$log"
  stop_server; return 1
}

# stop_server: SIGTERM to the server of serve_until_ready, waits for it, says its exit status.
stop_server() {
  [ -n "${SPID:-}" ] || return 0
  kill -TERM "$SPID" 2>/dev/null
  wait "$SPID"
  local rc=$?
  echo "server exit $rc"; SPID=
  return $rc
}

# ready_field FIELD [READY_FILE]: FIELD of the ready file (default $T/ready.json) as
# perf_analyzer's -u wants it: host:port[/path], without the scheme.
ready_field() {
  python3 -c 'import json, re, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(re.sub(r"^[a-z]+://", "", v).rstrip("/"))' \
    "${2:-$T/ready.json}" "$1"
}

# exclude_carry: keeps .gpu-carry/ out of git (in the info/exclude that git reads: in a worktree
# .git is a file, not a directory).
exclude_carry() {
  local ex
  ex="$(git rev-parse --git-path info/exclude)"
  mkdir -p "$(dirname "$ex")"
  grep -qx '.gpu-carry/' "$ex" 2>/dev/null || echo '.gpu-carry/' >> "$ex"
}
