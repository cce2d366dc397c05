"""Makes sure a worker never outlives the server that started it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, on_death: Callable[[], object], interval: float = 0.5) -> None:
    """PR_SET_PDEATHSIG on Linux, plus a watchdog thread polling the parent pid everywhere.

    The signal alone is not enough: it races with a parent that died before prctl ran, and it
    does not exist on macOS. The signal is SIGUSR1 (not SIGKILL) so the worker can remove what
    its dead server left in /dev/shm (`on_death`) on the way out, and tell that apart from the
    server's own SIGTERM; the watchdog does the same and exits even when the main thread is
    stuck in user code.
    """
    if sys.platform.startswith("linux"):

        def parent_died(signum: int, frame: object) -> None:
            try:
                on_death()
            finally:
                raise SystemExit(70)

        signal.signal(signal.SIGUSR1, parent_died)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGUSR1, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - unusual libc
            pass

    def orphaned() -> None:
        try:
            on_death()
        finally:
            os._exit(70)

    if os.getppid() != parent_pid:
        orphaned()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                orphaned()

    threading.Thread(target=watch, name="tensorbind-parent-watchdog", daemon=True).start()


def parent_gone(parent_pid: int, within: float = 0.5) -> bool:
    """Whether the parent dies within `within` seconds (it is reparented away from us).

    A killed server's sockets close before the kernel reparents its children, so a worker that
    sees the data socket close waits a moment to tell a dead server from one that is stopping.
    """
    deadline = time.monotonic() + within
    while os.getppid() == parent_pid:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so `finally` blocks and atexit handlers run (unlinking segments).

    SIGINT is ignored: Ctrl-C at a terminal reaches the whole process group, workers included,
    and each would print a KeyboardInterrupt traceback. The server catches it and stops its
    workers with SIGTERM (or SIGUSR1 when it dies), so they exit quietly and in order.
    """

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
