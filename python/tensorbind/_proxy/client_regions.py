"""Clients' shared-memory regions (Triton's system shared-memory extension), mapped by the worker.

The server has already checked the key (a plain name) and the bounds against its own mapping;
the worker maps only the span a tensor needs, checks the segment is still that large (touching
a page past the end of a shrunk segment would raise SIGBUS), and gives the model a NumPy view:
the bytes are never copied into an arena. Outputs the client wants in its region are written
there directly and left out of the Arrow stream.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tensorbind._proxy.datatypes import NUMPY_DTYPES, datatype_of
from tensorbind.decorators import TensorSpec
from tensorbind.errors import InvalidArgument

SHM_DIR = "/dev/shm"  # where glibc's shm_open keeps POSIX shared-memory objects


def _map(key: str, offset: int, size: int, writable: bool) -> tuple[mmap.mmap, int]:
    """Maps [offset, offset+size) of segment `key`; returns the mapping and the span's start in it."""
    name = key.lstrip("/")
    if not name or "/" in name or name in (".", ".."):
        raise InvalidArgument(f"invalid shared-memory key {key!r}")
    fd = os.open(os.path.join(SHM_DIR, name), os.O_RDWR if writable else os.O_RDONLY)
    try:
        length = os.fstat(fd).st_size
        if offset + size > length:
            raise InvalidArgument(
                f"shared-memory segment {key!r} is {length} bytes: too small for {offset}+{size}"
            )
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
        return mmap.mmap(fd, offset + size - start, offset=start, access=access), offset - start
    finally:
        os.close(fd)


def map_inputs(external: list[dict[str, Any]], writable: bool) -> dict[str, np.ndarray]:
    """The call's inputs that live in clients' regions, as NumPy views of those regions."""
    out: dict[str, np.ndarray] = {}
    for e in external:
        dtype = NUMPY_DTYPES[str(e["datatype"])]
        shape = tuple(int(d) for d in e["shape"])
        size = int(e["byteSize"])
        if size == 0:
            out[str(e["name"])] = np.empty(shape, dtype=dtype)
            continue
        m, delta = _map(str(e["key"]), int(e["offset"]), size, writable)
        arr = np.frombuffer(m, dtype=dtype, count=size // dtype.itemsize, offset=delta).reshape(shape)
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
            m, delta = _map(str(span["key"]), int(span["offset"]), arr.nbytes, True)
            target = np.frombuffer(m, dtype=arr.dtype, count=arr.size, offset=delta).reshape(arr.shape)
            if target.ctypes.data != arr.ctypes.data:  # the model may have written it in place
                np.copyto(target, arr)
            del target
        written[name] = {"datatype": dt, "shape": [int(d) for d in arr.shape]}
        del rest[name]
    return rest, written
