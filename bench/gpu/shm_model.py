"""bench/gpu/shm.sh's PyTorch model: doubles its input on the worker's device (cuda:0)."""

from __future__ import annotations

import tensorbind
import torch


@tensorbind.model(
    inputs={"INPUT0": ("FP32", [-1])},
    outputs={"OUTPUT0": ("FP32", [-1])},
    framework="torch",
)
def double(INPUT0: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"OUTPUT0": INPUT0 * 2}


@tensorbind.model(
    inputs={"INPUT0": ("FP32", [-1])},
    outputs={"OUTPUT0": ("FP32", [-1])},
    framework="torch",
)
def add_one_in_place(INPUT0: torch.Tensor) -> dict[str, torch.Tensor]:
    """Adds 1 to its input where it lies: a client's CUDA region shows the change (no copy in between)."""
    INPUT0.add_(1.0)
    return {"OUTPUT0": INPUT0.clone()}
