"""A NumPy model served by tensorbind: a small linear layer plus a softmax, batched.

Serve it with `npx tensorbind serve examples/python-numpy/model.py` (see README.md).
"""

from __future__ import annotations

import numpy as np

import tensorbind

rng = np.random.default_rng(0)
WEIGHTS = rng.standard_normal((4, 3)).astype(np.float32)
BIAS = np.zeros(3, dtype=np.float32)


@tensorbind.model(
    inputs={"x": tensorbind.tensor("FP32", [4])},
    outputs={"probs": tensorbind.tensor("FP32", [3]), "label": tensorbind.tensor("INT64", [1])},
    max_batch_size=64,
    name="linear_softmax",  # the model name when served with `tensorbind serve model.py`
    batcher=True,  # dynamic batching: queued requests are merged into one call
)
@tensorbind.batch  # the function sees whole batches (without it: one call per request)
def infer(x: np.ndarray) -> dict[str, np.ndarray]:
    # x is a read-only view of shared memory, shape [batch, 4]: no copy was made to get it here.
    logits = x @ WEIGHTS + BIAS
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return {"probs": probs, "label": probs.argmax(axis=1, keepdims=True).astype(np.int64)}
