"""Makes sure a worker never outlives the server that started it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, interval: float = 1.0) -> None:
    """PR_SET_PDEATHSIG on Linux, plus a watchdog thread polling the parent pid everywhere.

    The signal alone is not enough: it races with a parent that died before prctl ran, and it
    does not exist on macOS. The watchdog covers both.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - unusual libc
            pass
    if os.getppid() != parent_pid:
        os._exit(70)

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(70)

    threading.Thread(target=watch, name="tensorbind-parent-watchdog", daemon=True).start()


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so `finally` blocks and atexit handlers run (unlinking segments)."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
