#!/usr/bin/env bash
# Create/refresh the repository's Python environment (.venv) for the Python backend
# and the conformance suite, then install perf_analyzer (scripts/install-perf-analyzer.sh).
#
# Idempotent and quiet unless something fails; a second run with nothing changed
# takes well under a second for the Python part.
#
# Environment:
#   PYTHON      interpreter used to create the venv (default python3)
#   VENV        venv location (default <repo>/.venv)
#   SKIP_PERF_ANALYZER=1   do not install perf_analyzer
#   SERVE_ONLY=1  only what serving Python models needs (numpy, pyzmq, pyarrow): no test tools,
#                no perf_analyzer (what `npm run demo` uses); leaves a full setup's stamp alone
#   WITH_TORCH=1  also install PyTorch (PyPI's Linux wheel is the CUDA build: ~3 GB with its
#                nvidia-* wheels, minutes to install; the torch test skips without it)
#   VERBOSE=1   show pip's output
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
export VENV="${VENV:-$ROOT/.venv}"
LOG="$(mktemp -t setup-python.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT

# Keep in sync with docs/CONFORMANCE.md.
PACKAGES=(numpy pyzmq pyarrow pytest "tritonclient[all]" grpcio-health-checking ruff prometheus_client onnx onnxruntime scipy)
[[ "${WITH_TORCH:-0}" == 1 ]] && PACKAGES+=(torch)

die() {
	echo "setup-python: $*" >&2
	if [[ -s "$LOG" ]]; then
		echo "---- log ----" >&2
		tail -n 60 "$LOG" >&2
	fi
	exit 1
}

run() {
	echo "+ $*" >>"$LOG"
	if [[ "${VERBOSE:-0}" == 1 ]]; then
		"$@" 2>&1 | tee -a "$LOG"
		return "${PIPESTATUS[0]}"
	fi
	"$@" >>"$LOG" 2>&1
}

apt_install() {
	[[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || return 1
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" && return 0
	run apt-get update -q && run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# 1. interpreter and venv module (a fresh Debian 12 has neither python3 nor python3-venv)
if ! command -v "$PYTHON" >/dev/null; then
	apt_install python3 python3-venv || die "$PYTHON not found (apt-get install python3 python3-venv)"
fi

# 2. the venv
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
	rm -rf "$VENV"
	if ! run "$PYTHON" -m venv "$VENV"; then
		rm -rf "$VENV"
		pyver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
		apt_install "python$pyver-venv" python3-venv || die "python3 -m venv failed (apt-get install python3-venv)"
		run "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed"
	fi
fi
PY="$VENV/bin/python"

# 2b. serving only: the three packages a worker imports, nothing for the tests
if [[ "${SERVE_ONLY:-0}" == 1 ]]; then
	"$PY" -c 'import numpy, zmq, pyarrow' 2>/dev/null && exit 0
	echo "setup-python: installing numpy pyzmq pyarrow into $VENV" >&2
	run "$PY" -m pip install --quiet numpy pyzmq pyarrow || die "pip install numpy pyzmq pyarrow failed"
	exit 0
fi

# 3. packages; skipped when nothing that decides them has changed
want="$(
	{
		printf '%s\n' "${PACKAGES[@]}"
		"$PY" -c 'import sys; print(sys.version)'
		if [[ -f "$ROOT/python/pyproject.toml" ]]; then
			echo "python/ editable"
			cat "$ROOT/python/pyproject.toml"
		fi
	} | sha256sum | cut -d' ' -f1
)"
stamp="$VENV/.tensorbind-setup"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
	run "$PY" -m pip install --quiet --upgrade pip || die "pip upgrade failed"
	# No pip cache: PyTorch's CUDA wheels are ~3 GB and a cached copy would double that on a
	# machine whose disk may be nearly full; pip unpacks into TMPDIR, so keep that on the venv's disk.
	piptmp="$VENV/.pip-tmp"
	pip_install() { rm -rf "$piptmp" && mkdir -p "$piptmp" && run env PIP_NO_CACHE_DIR=1 TMPDIR="$piptmp" "$PY" -m pip install --quiet "$@"; }
	if ! pip_install "${PACKAGES[@]}"; then
		# Out of disk for PyTorch alone is not a reason to lose every other test: install the rest,
		# say so loudly (the torch test then skips and the summary counts it as skipped).
		if [[ "${WITH_TORCH:-0}" == 1 ]] && grep -q "No space left on device" "$LOG"; then
			echo "setup-python: WARNING: no disk space for PyTorch ($(df -h "$VENV" | awk 'NR==2{print $4}') free); continuing without it" >&2
			WITH_TORCH=0 partial=1
			kept=()
			for p in "${PACKAGES[@]}"; do [[ "$p" == torch ]] || kept+=("$p"); done
			PACKAGES=("${kept[@]}")
			# what PyTorch pulled in before the disk filled (torch, triton, nvidia-*) frees the space
			"$PY" -m pip list --format=freeze 2>/dev/null | grep -E '^(torch|triton|nvidia-[a-z0-9-]+)==' |
				cut -d= -f1 | xargs -r "$PY" -m pip uninstall -y -q >/dev/null 2>&1 || true
			pip_install "${PACKAGES[@]}" || die "pip install failed"
		else
			die "pip install failed"
		fi
	fi
	rm -rf "$piptmp"
	if [[ -f "$ROOT/python/pyproject.toml" ]]; then
		run "$PY" -m pip install --quiet -e "$ROOT/python" || die "pip install -e python/ failed"
	fi
	run "$PY" -c 'import numpy, zmq, pyarrow, pytest, tritonclient.http, tritonclient.grpc, prometheus_client' ||
		die "installed packages do not import"
	if [[ "${WITH_TORCH:-0}" == 1 ]]; then run "$PY" -c 'import torch' || die "torch does not import"; fi
	[[ "${partial:-0}" == 1 ]] || echo "$want" >"$stamp" # without torch: try again next time
fi

# 4. perf_analyzer
if [[ "${SKIP_PERF_ANALYZER:-0}" != 1 ]]; then
	"$ROOT/scripts/install-perf-analyzer.sh"
fi
