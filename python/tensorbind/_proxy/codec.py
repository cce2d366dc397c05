"""Where a call's tensors sit in the arenas: descriptors in the control message, bytes in place.

A control message describes each tensor as ``{"name", "datatype", "shape", "segment",
"offset", "length"}`` (docs/DATA_PLANE.md). Numeric values lie 64-byte aligned and
little-endian, row-major: the layout of an Arrow primitive array's value buffer, so NumPy,
PyTorch (DLPack) or pyarrow wrap them without a copy. BYTES tensors hold the KServe wire form
(u32-LE length + bytes per element). A tensor with no bytes has segment -1; a segment given by
name is another worker's output segment, read in place (arena.Segments maps it).

Inputs are read in place (NumPy views of the mapped segment); outputs are written once into
one slot of the worker's arena: the one copy out.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Mapping
from typing import Any

import numpy as np

from tensorbind._proxy.arena import ALIGN, OutputArena
from tensorbind._proxy.datatypes import NUMPY_DTYPES, datatype_of, decode_bytes, encode_bytes
from tensorbind.decorators import TensorSpec


def view_input(segments: Mapping[Any, mmap.mmap], d: Mapping[str, Any], *, writable: bool = False) -> Any:
    """One input as a NumPy view of its segment (read-only unless `writable`)."""
    dt = d["datatype"]
    shape = tuple(d["shape"])  # ints from the JSON decoder
    count = math.prod(shape)
    length = d["length"]
    if dt == "BYTES":
        if length == 0:
            return decode_bytes(b"", count).reshape(shape)
        blob = memoryview(segments[d["segment"]])[int(d["offset"]) : int(d["offset"]) + length]
        try:
            return decode_bytes(blob, count).reshape(shape)
        finally:
            blob.release()
    dtype = NUMPY_DTYPES[dt]
    if count == 0 or length == 0:
        return np.empty(shape, dtype=dtype)
    segment = segments[d["segment"]]
    arr = np.frombuffer(segment, dtype=dtype, count=length // dtype.itemsize, offset=d["offset"])
    arr = arr.reshape(shape)
    if not writable:
        arr.flags.writeable = False
    return arr


def decode_call(
    segments: Mapping[Any, mmap.mmap], inputs: list[Mapping[str, Any]], *, writable: bool = False
) -> dict[str, Any]:
    """A call's inputs by name, as views of the server's arena."""
    return {str(d["name"]): view_input(segments, d, writable=writable) for d in inputs}


def _array(value: Any, spec: TensorSpec | None) -> tuple[str, np.ndarray[Any, Any]]:
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    dt = spec.datatype if spec is not None else datatype_of(arr)
    if dt != "BYTES":
        arr = np.asarray(arr, dtype=NUMPY_DTYPES[dt], order="C")  # keeps 0-d shapes
    return dt, arr


def encode_outputs(
    outputs: Mapping[str, Any],
    requested: list[str] | None,
    specs: Mapping[str, TensorSpec] | None,
    arena: OutputArena,
) -> dict[str, Any]:
    """Writes the outputs into one fresh arena slot; returns the slot and each output's descriptor."""
    if not isinstance(outputs, Mapping):
        raise TypeError(f"the model function must return a dict of outputs, got {type(outputs).__name__}")
    names = [n for n in outputs if not requested or n in requested]
    if requested:
        missing = [n for n in requested if n not in outputs]
        if missing:
            stray = [n for n in outputs if specs is not None and n not in specs]
            hint = f"; it returned {stray}, which the model does not declare" if stray else ""
            raise KeyError(f"the model function did not return output(s) {missing}{hint}")
    prepared: list[tuple[str, str, list[int], Any]] = []
    total = 0
    for name in names:
        dt, arr = _array(outputs[name], specs.get(name) if specs else None)
        data: Any = encode_bytes(arr) if dt == "BYTES" else arr
        nbytes = len(data) if dt == "BYTES" else arr.nbytes
        prepared.append((name, dt, [int(d) for d in arr.shape], data))
        total += (nbytes + ALIGN - 1) // ALIGN * ALIGN
    slot = arena.alloc(total) if total > 0 else None
    described: list[dict[str, Any]] = []
    pos = slot[1] if slot else 0
    for name, dt, shape, data in prepared:
        nbytes = len(data) if dt == "BYTES" else data.nbytes
        d: dict[str, Any] = {
            "name": name,
            "datatype": dt,
            "shape": shape,
            "segment": -1,
            "offset": 0,
            "length": 0,
        }
        if nbytes > 0 and slot is not None:
            # One memcpy (C-contiguous: _array made it so); a NumPy view plus copyto costs ~15x more per call.
            arena.segments[slot[0]][pos : pos + nbytes] = data
            d.update(segment=slot[0], offset=pos, length=nbytes)
            pos += (nbytes + ALIGN - 1) // ALIGN * ALIGN
        described.append(d)
    return {"slot": list(slot) if slot else None, "outputs": described}
