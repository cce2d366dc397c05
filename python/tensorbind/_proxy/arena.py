"""Shared-memory segments, mapped with mmap directly.

``multiprocessing.shared_memory`` is avoided on purpose: its resource tracker unlinks
segments it merely attached to (CPython gh-82300). Segment names are unlinked as soon as both
sides have mapped them, so nothing is left in /dev/shm even after SIGKILL.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets

try:
    import _posixshmem  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - non-CPython
    _posixshmem = None

ALIGN = 64
MIN_SEGMENT = 1 << 20


def _open(name: str, flags: int) -> int:
    if _posixshmem is not None:
        return int(_posixshmem.shm_open(name, flags, 0o600))
    return os.open("/dev/shm/" + name.lstrip("/"), flags, 0o600)


def unlink(name: str) -> bool:
    """Removes a segment name; False when it was already gone."""
    try:
        if _posixshmem is not None:
            _posixshmem.shm_unlink(name)
        else:
            os.unlink("/dev/shm/" + name.lstrip("/"))
        return True
    except FileNotFoundError:
        return False


def open_segment(name: str) -> mmap.mmap:
    fd = _open(name, os.O_RDWR)
    try:
        return mmap.mmap(fd, 0)
    finally:
        os.close(fd)


def create_segment(size: int) -> tuple[str, mmap.mmap]:
    name = "/tb-" + secrets.token_hex(16)
    fd = _open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        os.ftruncate(fd, size)
        return name, mmap.mmap(fd, size)
    except BaseException:
        unlink(name)
        raise
    finally:
        os.close(fd)


class OutputArena:
    """The segments this worker writes its outputs into: first-fit slots freed by the server.

    A slot lives until the server says it no longer references it (the server releases it once
    the response tensors that view it are garbage collected), so slots are freed out of order.
    """

    def __init__(self) -> None:
        self.segments: dict[int, mmap.mmap] = {}
        self._free: dict[int, list[tuple[int, int]]] = {}  # segment -> sorted (offset, length)
        self._used: dict[tuple[int, int], int] = {}  # (segment, offset) -> length
        self._next_id = 0
        self.announce: list[dict[str, object]] = []  # new segments the server has not mapped yet
        self.unconfirmed: set[str] = set()

    def alloc(self, size: int) -> tuple[int, int]:
        size = max(ALIGN, (size + ALIGN - 1) // ALIGN * ALIGN)
        for seg, free in self._free.items():
            for i, (off, length) in enumerate(free):
                if length >= size:
                    if length == size:
                        free.pop(i)
                    else:
                        free[i] = (off + size, length - size)
                    self._used[(seg, off)] = size
                    return seg, off
        total = sum(len(m) for m in self.segments.values())
        seg_size = max(MIN_SEGMENT, size, total)
        seg_size = (seg_size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
        name, m = create_segment(seg_size)
        seg = self._next_id
        self._next_id += 1
        self.segments[seg] = m
        self._free[seg] = [(size, seg_size - size)] if seg_size > size else []
        self._used[(seg, 0)] = size
        self.announce.append({"id": seg, "name": name, "size": seg_size})
        self.unconfirmed.add(name)
        return seg, 0

    def free(self, seg: int, offset: int) -> None:
        length = self._used.pop((seg, offset), None)
        if length is None:
            return
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

    def close(self) -> None:
        for name in self.unconfirmed:
            unlink(name)
        self.unconfirmed.clear()
        for m in self.segments.values():
            with contextlib.suppress(BufferError):  # a view still exported: unmapped at exit
                m.close()
        self.segments.clear()
