"""KServe datatypes as NumPy dtypes, and the BYTES wire codec."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

try:  # NumPy has no bfloat16; ml_dtypes adds one when it is installed.
    from ml_dtypes import bfloat16 as _bfloat16  # type: ignore[import-not-found]

    BF16_DTYPE: np.dtype[Any] = np.dtype(_bfloat16)
    HAS_BF16 = True
except ImportError:  # pragma: no cover - depends on the environment
    BF16_DTYPE = np.dtype(np.uint16)
    HAS_BF16 = False

# The dtype user code sees for each numeric datatype.
NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "BF16": BF16_DTYPE,
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}

_KIND_TO_DATATYPE: dict[tuple[str, int], str] = {
    ("b", 1): "BOOL",
    ("u", 1): "UINT8",
    ("u", 2): "UINT16",
    ("u", 4): "UINT32",
    ("u", 8): "UINT64",
    ("i", 1): "INT8",
    ("i", 2): "INT16",
    ("i", 4): "INT32",
    ("i", 8): "INT64",
    ("f", 2): "FP16",
    ("f", 4): "FP32",
    ("f", 8): "FP64",
}


def datatype_of(array: np.ndarray[Any, Any]) -> str:
    """The KServe datatype of a NumPy array (object/str/bytes arrays are BYTES)."""
    dt = array.dtype
    if dt.kind in ("O", "S", "U"):
        return "BYTES"
    if HAS_BF16 and dt == BF16_DTYPE:
        return "BF16"
    found = _KIND_TO_DATATYPE.get((dt.kind, dt.itemsize))
    if found is None:
        raise TypeError(f"arrays of dtype {dt} cannot be returned; use a KServe datatype")
    return found


def decode_bytes(blob: memoryview | bytes, count: int) -> np.ndarray[Any, Any]:
    """KServe BYTES wire form (u32-LE length + bytes per element) to an object array of bytes."""
    out = np.empty(count, dtype=object)
    view = memoryview(blob)
    pos = 0
    for i in range(count):
        (n,) = struct.unpack_from("<I", view, pos)
        pos += 4
        out[i] = bytes(view[pos : pos + n])
        pos += n
    if pos != len(view):
        raise ValueError(f"BYTES tensor has {len(view) - pos} trailing bytes after {count} elements")
    return out


def encode_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """An array of bytes/str (or anything str() can render) to the KServe BYTES wire form."""
    parts: list[bytes] = []
    for item in array.reshape(-1).tolist():
        b = item if isinstance(item, (bytes, bytearray)) else str(item).encode()
        parts.append(struct.pack("<I", len(b)))
        parts.append(bytes(b))
    return b"".join(parts)
