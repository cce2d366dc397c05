"""Clients' shared-memory regions (Triton's system shared-memory extension), mapped by the worker.

The server has already checked the key (a plain name) and the bounds against its own mapping.
The worker maps the whole segment once and keeps it for the next requests (a fresh mapping
costs a page fault per 4 KiB touched, as much as the copy it saves), checks on every use that
the name still refers to the same segment and that it is still large enough (touching a page
past the end of a shrunk segment would raise SIGBUS), and gives the model a NumPy view: the
bytes are never copied into an arena. Outputs the client wants in its region are written there
directly and left out of the Arrow stream. The server says when it unmaps a region (`forget`).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from tensorbind._proxy.datatypes import NUMPY_DTYPES, datatype_of
from tensorbind.decorators import TensorSpec
from tensorbind.errors import InvalidArgument

SHM_DIR = "/dev/shm"  # where glibc's shm_open keeps POSIX shared-memory objects
MAX_CACHED = 32


class _Mapped:
    def __init__(self, m: mmap.mmap, ino: int, size: int, writable: bool) -> None:
        self.mmap, self.ino, self.size, self.writable = m, ino, size, writable

    def close(self) -> None:
        with contextlib.suppress(BufferError):  # a model still holds a view: it goes with that view
            self.mmap.close()


_cache: OrderedDict[str, _Mapped] = OrderedDict()


def _path(key: str) -> str:
    name = key.lstrip("/")
    if not name or "/" in name or name in (".", ".."):
        raise InvalidArgument(f"invalid shared-memory key {key!r}")
    return os.path.join(SHM_DIR, name)


def _segment(key: str, end: int, writable: bool) -> mmap.mmap:
    """The whole segment `key`, mapped (cached); `end` is the last byte the caller needs."""
    path = _path(key)
    st = os.stat(path)
    if end > st.st_size:
        raise InvalidArgument(f"shared-memory segment {key!r} is {st.st_size} bytes: too small for {end}")
    hit = _cache.get(key)
    if hit is not None and hit.ino == st.st_ino and hit.size == st.st_size and (hit.writable or not writable):
        _cache.move_to_end(key)
        return hit.mmap
    if hit is not None:
        del _cache[key]
        hit.close()
    fd = os.open(path, os.O_RDWR)
    try:
        st = os.fstat(fd)
        if end > st.st_size:
            raise InvalidArgument(f"shared-memory segment {key!r} is {st.st_size} bytes: too small for {end}")
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # one call, not a fault per page
        m = mmap.mmap(fd, st.st_size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)
    _cache[key] = _Mapped(m, st.st_ino, st.st_size, True)
    while len(_cache) > MAX_CACHED:
        _cache.popitem(last=False)[1].close()
    return m


def forget(keys: Iterable[str]) -> None:
    """Drops the mappings of regions the server no longer has (CUDA openings included)."""
    keys = list(keys)
    # cuda_regions (ctypes and its helpers: ~20 ms of a worker's start-up) loads with the first
    # CUDA region a torch worker opens; a worker that never loaded it holds no CUDA opening.
    cuda_regions = sys.modules.get("tensorbind._proxy.cuda_regions")
    if cuda_regions is not None:
        cuda_regions.forget(keys)
    for key in keys:
        hit = _cache.pop(str(key), None)
        if hit is not None:
            hit.close()


def map_inputs(
    external: list[dict[str, Any]], writable: bool, open_cuda: Callable[[dict[str, Any]], Any] | None = None
) -> dict[str, Any]:
    """The call's inputs that live in clients' regions: NumPy views (system), device tensors (CUDA)."""
    out: dict[str, Any] = {}
    for e in external:
        if e.get("cuda") is not None:
            if open_cuda is None:
                raise InvalidArgument(f"input {e['name']!r} is in a CUDA region: this model cannot open it")
            out[str(e["name"])] = open_cuda(e)
            continue
        dtype = NUMPY_DTYPES[str(e["datatype"])]
        shape = tuple(int(d) for d in e["shape"])
        offset, size = int(e["offset"]), int(e["byteSize"])
        if size == 0:
            out[str(e["name"])] = np.empty(shape, dtype=dtype)
            continue
        m = _segment(str(e["key"]), offset + size, writable)
        arr = np.frombuffer(m, dtype=dtype, count=size // dtype.itemsize, offset=offset).reshape(shape)
        if not writable:
            arr.flags.writeable = False
        out[str(e["name"])] = arr
    return out


def write_outputs(
    outputs: Any,
    regions: Mapping[str, Mapping[str, Any]] | None,
    specs: Mapping[str, TensorSpec] | None,
) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Writes the numeric outputs that fit into their regions; returns the rest and what was written."""
    if not regions or not isinstance(outputs, Mapping):
        return outputs, {}
    rest = dict(outputs)
    written: dict[str, dict[str, Any]] = {}
    for name, span in regions.items():
        if name not in rest:
            continue
        spec = specs.get(name) if specs else None
        arr = rest[name] if isinstance(rest[name], np.ndarray) else np.asarray(rest[name])
        dt = spec.datatype if spec is not None else datatype_of(arr)
        if dt == "BYTES":
            continue  # the server lays BYTES out and copies them
        arr = np.asarray(arr, dtype=NUMPY_DTYPES[dt], order="C")
        if arr.nbytes > int(span["byteSize"]):
            continue  # the server answers the client's too-small region with a clear error
        if arr.nbytes > 0:
            offset = int(span["offset"])
            m = _segment(str(span["key"]), offset + arr.nbytes, True)
            target = np.frombuffer(m, dtype=arr.dtype, count=arr.size, offset=offset).reshape(arr.shape)
            if target.ctypes.data != arr.ctypes.data:  # the model may have written it in place
                np.copyto(target, arr)
            del target
        written[name] = {"datatype": dt, "shape": [int(d) for d in arr.shape]}
        del rest[name]
    return rest, written
