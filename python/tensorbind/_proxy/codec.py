"""Arrow IPC layout of a call, in place in the arenas.

A call is an Arrow IPC stream (schema + one record batch of one row). Each tensor is one
column carrying `tensorbind.datatype` and `tensorbind.shape` field metadata:

- numeric tensors: `arrow.fixed_shape_tensor` (FixedSizeList storage, full shape);
- BYTES tensors: a binary column whose single value is the KServe wire form (u32-LE length +
  bytes per element), so neither side has to re-frame it;
- tensors with no elements: an empty binary value (FixedSizeList cannot have size 0).

Inputs are read in place (NumPy views of the mapped segment); outputs are sized first, then
written straight into a slot of the worker's arena: one copy.
"""

from __future__ import annotations

import contextlib
import json
import mmap
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from tensorbind._proxy.arena import OutputArena
from tensorbind._proxy.datatypes import (
    ARROW_TYPES,
    NUMPY_DTYPES,
    datatype_of,
    decode_bytes,
    encode_bytes,
)
from tensorbind.decorators import TensorSpec

DATATYPE_KEY = b"tensorbind.datatype"
SHAPE_KEY = b"tensorbind.shape"


class Segment:
    """A mapped segment plus the Arrow buffer over it (kept so views resolve to offsets)."""

    def __init__(self, m: mmap.mmap) -> None:
        self.mmap = m
        self.buffer = pa.py_buffer(m)

    def release(self) -> None:
        del self.buffer
        with contextlib.suppress(BufferError):  # a view still exported: the mapping goes with the process
            self.mmap.close()


def decode_call(seg: Segment, offset: int, length: int, *, writable: bool = False) -> dict[str, Any]:
    """Reads one call's inputs: NumPy views of the segment (read-only unless `writable`)."""
    reader = pa.ipc.open_stream(pa.BufferReader(seg.buffer.slice(offset, length)))
    batch = reader.read_next_batch()
    base = seg.buffer.address
    out: dict[str, Any] = {}
    for i, fld in enumerate(batch.schema):
        md = fld.metadata or {}
        dt = md.get(DATATYPE_KEY, b"").decode()
        shape = tuple(json.loads(md.get(SHAPE_KEY, b"[]")))
        count = int(np.prod(shape, dtype=np.int64))
        col = batch.column(i)
        if dt == "BYTES":
            offsets = np.frombuffer(col.buffers()[1], dtype="<i4", count=2, offset=col.offset * 4)
            data = col.buffers()[2]
            blob = memoryview(data)[int(offsets[0]) : int(offsets[1])] if data is not None else b""
            out[fld.name] = decode_bytes(blob, count).reshape(shape)
        elif count == 0:
            out[fld.name] = np.empty(shape, dtype=NUMPY_DTYPES[dt])
        else:
            values = col.storage.values if isinstance(col, pa.ExtensionArray) else col.values
            storage_dtype = np.dtype(values.type.to_pandas_dtype())
            buf = values.buffers()[1]
            start = buf.address - base + values.offset * storage_dtype.itemsize
            arr = np.frombuffer(seg.mmap, dtype=storage_dtype, count=count, offset=start)
            arr = arr.view(NUMPY_DTYPES[dt]).reshape(shape)
            if not writable:
                arr.flags.writeable = False
            out[fld.name] = arr
    return out


def _column(name: str, value: Any, spec: TensorSpec | None) -> tuple[pa.Field, pa.Array]:
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    dt = spec.datatype if spec is not None else datatype_of(arr)
    if dt != "BYTES":
        arr = np.asarray(arr, dtype=NUMPY_DTYPES[dt], order="C")  # keeps 0-d shapes
    shape = [int(d) for d in arr.shape]
    md = {DATATYPE_KEY: dt.encode(), SHAPE_KEY: json.dumps(shape).encode()}
    if dt == "BYTES":
        return pa.field(name, pa.binary(), False, md), pa.array([encode_bytes(arr)], pa.binary())
    if arr.size == 0:
        return pa.field(name, pa.binary(), False, md), pa.array([b""], pa.binary())
    value_type = ARROW_TYPES[dt]
    flat = pa.Array.from_buffers(value_type, arr.size, [None, pa.py_buffer(arr.reshape(-1).view(np.uint8))])
    storage = pa.FixedSizeListArray.from_arrays(flat, arr.size)
    ext = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(value_type, shape), storage)
    return pa.field(name, ext.type, False, md), ext


def encode_outputs(
    outputs: Mapping[str, Any],
    requested: list[str] | None,
    specs: Mapping[str, TensorSpec] | None,
    arena: OutputArena,
) -> dict[str, int]:
    """Writes the outputs as one Arrow stream into a fresh arena slot; returns its location."""
    if not isinstance(outputs, Mapping):
        raise TypeError(f"the model function must return a dict of outputs, got {type(outputs).__name__}")
    names = [n for n in outputs if not requested or n in requested]
    if requested:
        missing = [n for n in requested if n not in outputs]
        if missing:
            raise KeyError(f"the model function did not return requested output(s) {missing}")
    fields: list[pa.Field] = []
    columns: list[pa.Array] = []
    for name in names:
        f, c = _column(name, outputs[name], specs.get(name) if specs else None)
        fields.append(f)
        columns.append(c)
    batch = pa.record_batch(columns, schema=pa.schema(fields))
    sink = pa.MockOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    size = sink.size()
    seg, off = arena.alloc(size)
    # A py_buffer over a memoryview slice is mutable (an Arrow slice of a buffer is not).
    target = pa.FixedSizeBufferWriter(pa.py_buffer(memoryview(arena.segments[seg])[off : off + size]))
    with pa.ipc.new_stream(target, batch.schema) as w:
        w.write_batch(batch)
    target.close()
    return {"segment": seg, "offset": off, "length": size}
