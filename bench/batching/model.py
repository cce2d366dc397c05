"""The MLP of bench/batching: a small PyTorch network, batch-aware through @tensorbind.batch.

The same function serves both sides of the comparison; only the server's `batching` option
differs (see models.ts), so the ratio measures dynamic batching and nothing else.
"""

from __future__ import annotations

import os

import tensorbind
import torch

# One thread per worker: the machine's other cores serve the frontend and the load generator.
torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "1")))
torch.manual_seed(0)
FEATURES, CLASSES = 64, 16
HIDDEN = int(os.environ.get("BENCH_HIDDEN", "1024"))
MLP = torch.nn.Sequential(
    torch.nn.Linear(FEATURES, HIDDEN),
    torch.nn.ReLU(),
    torch.nn.Linear(HIDDEN, HIDDEN),
    torch.nn.ReLU(),
    torch.nn.Linear(HIDDEN, CLASSES),
).eval()
_device: torch.device | None = None


@tensorbind.model(
    inputs={"x": tensorbind.tensor("FP32", [FEATURES])},
    outputs={"y": tensorbind.tensor("FP32", [CLASSES])},
    max_batch_size=64,
    framework="torch",
)
@tensorbind.batch
@torch.inference_mode()
def infer(x: torch.Tensor) -> dict[str, torch.Tensor]:
    global _device
    if _device != x.device:  # follow the device the worker moved the inputs to
        MLP.to(x.device)
        _device = x.device
    return {"y": MLP(x)}
