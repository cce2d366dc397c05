"""A PyTorch model served by tensorbind with framework="torch" (inputs arrive as torch tensors).

Serve it with `npx tensorbind serve examples/python-torch/models.ts` (TENSORBIND_DEVICE=cuda:0 for a GPU)
or `npx tensorbind serve examples/python-torch/model.py` (CPU).
"""

from __future__ import annotations

import torch

import tensorbind

torch.manual_seed(0)
MLP = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)).eval()
_moved = False


@tensorbind.model(
    inputs={"x": tensorbind.tensor("FP32", [8])},
    outputs={"y": tensorbind.tensor("FP32", [2])},
    max_batch_size=128,
    name="mlp",
    framework="torch",  # how `tensorbind serve model.py` runs it; models.ts passes its own options
    batcher=True,  # dynamic batching: queued requests are merged into one call
)
@tensorbind.batch  # the function sees whole batches (without it: one call per request)
@torch.inference_mode()
def infer(x: torch.Tensor) -> dict[str, torch.Tensor]:
    global _moved
    if not _moved:  # follow the device the worker moved the inputs to
        MLP.to(x.device)
        _moved = True
    return {"y": MLP(x)}
