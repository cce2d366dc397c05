"""Clients' CUDA regions opened by the worker: torch tensors on the worker's GPU over the client's memory.

The server opened the client's CUDA IPC handle in its own process and checked the bounds; a
torch worker on the same GPU opens it once more here (`cudaIpcOpenMemHandle` of the CUDA runtime
torch already loaded) and gives the model a tensor over that device memory: the bytes never
reach the host or an arena. The opening is cached per registration (`key`) and closed when the
server says the region is gone (`forget`), so the client's memory is not held past that.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
from collections import OrderedDict
from typing import Any

import numpy as np

from tensorbind._proxy.datatypes import NUMPY_DTYPES

MAX_OPEN = 32
_IPC_LAZY_ENABLE_PEER_ACCESS = 1


class _IpcHandle(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_char * 64)]


class _DeviceArray:
    """What torch.as_tensor takes as device memory without a copy (`__cuda_array_interface__`)."""

    def __init__(self, pointer: int, shape: tuple[int, ...], typestr: str, owner: Any) -> None:
        self.__cuda_array_interface__ = {
            "shape": shape,
            "typestr": typestr,
            "data": (pointer, False),
            "version": 2,
            "strides": None,
        }
        self.owner = owner  # the opening stays alive while a tensor refers to it


class _Opened:
    def __init__(self, lib: Any, pointer: int, handle: bytes) -> None:
        self.lib, self.pointer, self.handle, self.closed = lib, pointer, handle, False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.lib.cudaIpcCloseMemHandle(ctypes.c_void_p(self.pointer))


_open: OrderedDict[str, _Opened] = OrderedDict()
_lib: Any = None


def _cudart() -> Any:
    """The CUDA runtime torch loaded (the same library, so the same context), else the system's."""
    global _lib
    if _lib is not None:
        return _lib
    names: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            names += sorted({line.split()[-1] for line in maps if "libcudart.so" in line})
    except OSError:
        pass
    found = ctypes.util.find_library("cudart")
    names += [n for n in ("libcudart.so", found) if n]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.cudaIpcOpenMemHandle.argtypes = [ctypes.POINTER(ctypes.c_void_p), _IpcHandle, ctypes.c_uint]
        lib.cudaIpcOpenMemHandle.restype = ctypes.c_int
        lib.cudaIpcCloseMemHandle.argtypes = [ctypes.c_void_p]
        lib.cudaIpcCloseMemHandle.restype = ctypes.c_int
        lib.cudaGetErrorString.argtypes = [ctypes.c_int]
        lib.cudaGetErrorString.restype = ctypes.c_char_p
        _lib = lib
        return lib
    raise RuntimeError("the CUDA runtime (libcudart) was not found in this worker")


def _opening(key: str, handle: bytes, torch: Any, device: Any) -> _Opened:
    hit = _open.get(key)
    if hit is not None and hit.handle == handle:
        _open.move_to_end(key)
        return hit
    if hit is not None:
        del _open[key]
        hit.close()
    lib = _cudart()
    pointer = ctypes.c_void_p()
    with torch.cuda.device(device):
        err = lib.cudaIpcOpenMemHandle(
            ctypes.byref(pointer), _IpcHandle.from_buffer_copy(handle), _IPC_LAZY_ENABLE_PEER_ACCESS
        )
    if err != 0:
        raise RuntimeError(f"cudaIpcOpenMemHandle: {lib.cudaGetErrorString(err).decode()}")
    opened = _Opened(lib, int(pointer.value or 0), handle)
    _open[key] = opened
    while len(_open) > MAX_OPEN:
        _open.popitem(last=False)[1].close()
    return opened


def tensor(e: dict[str, Any], torch: Any, device: Any) -> Any:
    """The input `e` (an external tensor with `cuda`), as a torch tensor over the client's memory."""
    dtype = NUMPY_DTYPES[str(e["datatype"])]
    shape = tuple(int(d) for d in e["shape"])
    size, offset = int(e["byteSize"]), int(e["offset"])
    if size == 0:
        return torch.empty(shape, dtype=torch.from_numpy(np.empty(0, dtype)).dtype, device=device)
    handle = base64.b64decode(str(e["cuda"]["handle"]))
    opened = _opening(str(e["key"]), handle, torch, device)
    return torch.as_tensor(_DeviceArray(opened.pointer + offset, shape, dtype.str, opened), device=device)


def forget(keys: list[str]) -> None:
    """Closes the openings of regions the server closed."""
    for key in keys:
        hit = _open.pop(str(key), None)
        if hit is not None:
            hit.close()
