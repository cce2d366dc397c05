"""Shared-memory segments, mapped with mmap directly.

``multiprocessing.shared_memory`` is avoided on purpose: its resource tracker unlinks
segments it merely attached to (CPython gh-82300).

Names: the server gives each worker a prefix (``/tb-<server pid>-<arena id>-``); every segment
the worker creates starts with it, so the server can sweep what a killed worker left, and the
worker sweeps its dead server's ``/tb-<pid>-`` (see sweep()). Pages are reserved up front
(posix_fallocate): a full /dev/shm is an error for one call, never a SIGBUS.
"""

from __future__ import annotations

import contextlib
import mmap
import os

try:
    import _posixshmem  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - non-CPython
    _posixshmem = None

ALIGN = 64
MIN_SEGMENT = 1 << 20
SHM_DIR = "/dev/shm"


class SharedMemoryExhausted(Exception):
    """No shared memory for this call: the arena's cap, or a full /dev/shm."""


def _open(name: str, flags: int) -> int:
    if _posixshmem is not None:
        return int(_posixshmem.shm_open(name, flags, 0o600))
    return os.open(SHM_DIR + "/" + name.lstrip("/"), flags, 0o600)


def unlink(name: str) -> bool:
    """Removes a segment name; False when it was already gone."""
    try:
        if _posixshmem is not None:
            _posixshmem.shm_unlink(name)
        else:
            os.unlink(SHM_DIR + "/" + name.lstrip("/"))
        return True
    except FileNotFoundError:
        return False


def server_prefix(pid: int) -> str:
    """The names of a server's segments (src/backends/shm-names.ts): pid and pid namespace."""
    try:
        ns = os.readlink("/proc/self/ns/pid").split("[")[1].rstrip("]")
    except (OSError, IndexError):
        ns = "0"
    return f"/tb-{pid}-n{ns}."


def sweep(prefix: str) -> int:
    """Unlinks every segment whose name starts with `prefix` (what a dead process left)."""
    start = prefix.lstrip("/")
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return 0
    n = 0
    for name in names:
        if name.startswith(start) and unlink("/" + name):
            n += 1
    return n


def open_segment(name: str, *, readonly: bool = False) -> mmap.mmap:
    fd = _open(name, os.O_RDONLY if readonly else os.O_RDWR)
    try:
        return mmap.mmap(fd, 0, prot=mmap.PROT_READ) if readonly else mmap.mmap(fd, 0)
    finally:
        os.close(fd)


class Segments(dict):  # type: ignore[type-arg]
    """Where a call's inputs lie: the server's arena segments by id (mapped when the server says),
    and other workers' output segments by name, mapped read-only on first use (an ensemble
    step's input read where the previous step wrote it; unmapped when the server says so)."""

    def __missing__(self, key: object) -> mmap.mmap:
        if not isinstance(key, str):
            raise KeyError(key)
        try:
            m = self[key] = open_segment(key, readonly=True)
        except FileNotFoundError:
            raise RuntimeError(
                f"an input's shared memory {key} is gone (the model that wrote it restarted)"
            ) from None
        return m


def create_segment(size: int, prefix: str = "/tb-") -> tuple[str, mmap.mmap]:
    name = prefix + os.urandom(16).hex()  # as secrets.token_hex, without its ~4 ms import
    fd = _open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        os.ftruncate(fd, size)
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno in (28, 12):  # ENOSPC, ENOMEM
                raise SharedMemoryExhausted(
                    f"/dev/shm cannot hold {size} more bytes for the worker's outputs; give the server a "
                    "larger /dev/shm (docker run --shm-size, Kubernetes emptyDir {medium: Memory}) "
                    "or lower --shm-limit"
                ) from None
            if exc.errno not in (95, 38):  # EOPNOTSUPP, ENOSYS: a filesystem without it
                raise
        return name, mmap.mmap(fd, size)
    except BaseException:
        unlink(name)
        raise
    finally:
        os.close(fd)


class OutputArena:
    """The segments this worker writes its outputs into: first-fit slots freed by the server.

    A slot lives until the server says the response that views it is written, so slots are
    freed out of order. Segments left empty are dropped when the worker is idle (drop_empty),
    all but one idle segment of MIN_SEGMENT bytes.
    """

    def __init__(self, prefix: str = "/tb-", limit: float = float("inf")) -> None:
        self.prefix = prefix
        self.limit = limit
        self.segments: dict[int, mmap.mmap] = {}
        self._free: dict[int, list[tuple[int, int]]] = {}  # segment -> sorted (offset, length)
        self._used: dict[tuple[int, int], int] = {}  # (segment, offset) -> length
        self._in_segment: dict[int, int] = {}  # segment -> slots in use
        self._names: dict[int, str] = {}
        self._next_id = 0
        self.announce: list[dict[str, object]] = []  # new segments the server has not mapped yet
        self.unconfirmed: set[str] = set()

    def byte_length(self) -> int:
        return sum(len(m) for m in self.segments.values())

    def alloc(self, size: int) -> tuple[int, int]:
        size = max(ALIGN, (size + ALIGN - 1) // ALIGN * ALIGN)
        for seg, free in self._free.items():
            for i, (off, length) in enumerate(free):
                if length >= size:
                    if length == size:
                        free.pop(i)
                    else:
                        free[i] = (off + size, length - size)
                    self._take(seg, off, size)
                    return seg, off
        total = self.byte_length()
        page = mmap.PAGESIZE
        need = (size + page - 1) // page * page
        if total + need > self.limit:
            raise SharedMemoryExhausted(
                f"no shared memory for the worker's outputs: {need} more bytes would exceed the "
                f"model's limit of {int(self.limit)} bytes ({total} in use)"
            )
        seg_size = (max(MIN_SEGMENT, size, total) + page - 1) // page * page
        if total + seg_size > self.limit:
            seg_size = need
        name, m = create_segment(seg_size, self.prefix)
        seg = self._next_id
        self._next_id += 1
        self.segments[seg] = m
        self._names[seg] = name
        self._free[seg] = [(size, seg_size - size)] if seg_size > size else []
        self._in_segment[seg] = 0
        self._take(seg, 0, size)
        self.announce.append({"id": seg, "name": name, "size": seg_size})
        self.unconfirmed.add(name)
        return seg, 0

    def _take(self, seg: int, off: int, size: int) -> None:
        self._used[(seg, off)] = size
        self._in_segment[seg] += 1

    def free(self, seg: int, offset: int) -> None:
        length = self._used.pop((seg, offset), None)
        if length is None:
            return
        self._in_segment[seg] -= 1
        free = self._free[seg]
        free.append((offset, length))
        free.sort()
        merged: list[tuple[int, int]] = []
        for off, n in free:
            if merged and merged[-1][0] + merged[-1][1] == off:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            else:
                merged.append((off, n))
        self._free[seg] = merged

    def in_use(self) -> int:
        return len(self._used)

    def droppable(self) -> list[int]:
        """Empty segments beyond the idle one."""
        empty = [s for s, n in self._in_segment.items() if n == 0]
        only_one_small = len(empty) == 1 and len(self.segments[empty[0]]) <= MIN_SEGMENT
        if len(empty) == len(self.segments) and only_one_small:
            return []
        return empty

    def drop_empty(self) -> list[int]:
        """Closes the droppable segments; returns their ids (the server unmaps them too)."""
        dropped = self.droppable()
        for seg in dropped:
            m = self.segments.pop(seg)
            name = self._names.pop(seg)
            if name in self.unconfirmed:
                self.unconfirmed.discard(name)
                unlink(name)
            del self._free[seg]
            del self._in_segment[seg]
            with contextlib.suppress(BufferError):  # a view still exported: unmapped at exit
                m.close()
        return dropped

    def close(self) -> None:
        for name in self.unconfirmed:
            unlink(name)
        self.unconfirmed.clear()
        for m in self.segments.values():
            with contextlib.suppress(BufferError):  # a view still exported: unmapped at exit
                m.close()
        self.segments.clear()
