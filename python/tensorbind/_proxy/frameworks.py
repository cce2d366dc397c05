"""Hands inputs to the user function as NumPy arrays or torch tensors, and takes outputs back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class Framework:
    """NumPy: read-only views of the arena go straight to the function."""

    writable_inputs = False
    #: Opens an input in a client's CUDA region on this worker's GPU (None: this model cannot).
    open_cuda: Callable[[dict[str, Any]], Any] | None = None

    def inputs(self, arrays: dict[str, Any]) -> dict[str, Any]:
        return arrays

    def output(self, value: Any) -> Any:
        return value


class TorchFramework(Framework):
    """PyTorch: zero-copy tensors over the arena (moved to `device` when it is not the CPU).

    The views are writable (torch warns on read-only NumPy memory); the arena slot is scratch
    space for this call only, so writing into it is harmless.
    """

    writable_inputs = True

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        if self.device.type == "cuda":
            _check_cuda(torch, self.device)
            self.open_cuda = self._open_cuda

    def _open_cuda(self, e: dict[str, Any]) -> Any:
        from tensorbind._proxy import cuda_regions

        return cuda_regions.tensor(e, self.torch, self.device)

    def inputs(self, arrays: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, arr in arrays.items():
            if isinstance(arr, self.torch.Tensor):  # already on the GPU: a client's CUDA region
                out[name] = arr if arr.device == self.device else arr.to(self.device)
                continue
            if arr.dtype == object:
                out[name] = arr  # BYTES stay NumPy object arrays
                continue
            if arr.dtype.itemsize == 2 and arr.dtype.kind not in ("f", "i", "u"):  # ml_dtypes bfloat16
                t = self.torch.from_numpy(arr.view(np.int16)).view(self.torch.bfloat16)
            else:
                t = self.torch.from_numpy(arr)
            out[name] = t if self.device.type == "cpu" else t.to(self.device, non_blocking=True)
        return out

    def output(self, value: Any) -> Any:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            t = value.detach()
            if t.device.type != "cpu":
                t = t.cpu()
            if t.dtype == torch.bfloat16:
                return _bf16(t.view(torch.int16).numpy())
            return t.numpy()
        return value


def _check_cuda(torch: Any, device: Any) -> None:
    """A GPU model that cannot get its GPU fails at load, not at its first request."""
    if not torch.cuda.is_available():
        why = "this torch has no CUDA support" if torch.version.cuda is None else "it sees no GPU"
        raise RuntimeError(
            f"device {str(device)!r} asked, but torch cannot use CUDA here ({why}); "
            "serve on device='cpu' or run where a GPU is visible"
        )
    index = device.index or 0
    count = torch.cuda.device_count()
    if index >= count:
        raise RuntimeError(f"device {str(device)!r} asked, but torch sees {count} GPU(s)")


def _bf16(raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    from tensorbind._proxy.datatypes import BF16_DTYPE, HAS_BF16

    return raw.view(BF16_DTYPE) if HAS_BF16 else raw.view(np.uint16)


def make_framework(name: str, device: str) -> Framework:
    if name == "torch":
        return TorchFramework(device)
    if name != "numpy":
        raise ValueError(f"unknown framework {name!r}; use 'numpy' or 'torch'")
    return Framework()
