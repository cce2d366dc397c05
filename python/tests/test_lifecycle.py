"""A worker never outlives its parent (PR_SET_PDEATHSIG plus the ppid watchdog)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "models.py"
PACKAGE_DIR = Path(__file__).parent.parent

# The middle process starts a worker, prints its pid, then waits to be SIGKILLed.
PARENT = """
import os, subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-m", "tensorbind.worker", "--module", sys.argv[1],
    "--function", "echo", "--endpoint", sys.argv[2], "--parent-pid", str(os.getpid())])
print(worker.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_worker_dies_with_its_parent():
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR)}
        parent = subprocess.Popen(
            [sys.executable, "-c", PARENT, str(FIXTURE), f"ipc://{d}/ctl.sock"],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert parent.stdout is not None
        worker_pid = int(parent.stdout.readline())
        time.sleep(0.5)
        assert alive(worker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker_pid)
