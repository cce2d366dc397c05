"""tensorbind: serve Python functions behind a KServe v2 / Triton-compatible endpoint.

The user-facing API is the :func:`model` decorator and :func:`tensor`; the worker plumbing
lives in ``tensorbind._proxy`` and is never imported by user code.

Example::

    import numpy as np
    import tensorbind

    @tensorbind.model(
        inputs={"x": tensorbind.tensor("FP32", [-1])},
        outputs={"y": tensorbind.tensor("FP32", [-1])},
        max_batch_size=8,
        batcher=True,  # dynamic batching: the server merges queued requests
    )
    @tensorbind.batch  # the function sees whole batches (without it: one request per call)
    def infer(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"y": x * 2}
"""

from tensorbind.decorators import (
    DATATYPES,
    ConstantPadder,
    DynamicBatcher,
    ModelInfo,
    QueuePolicy,
    Request,
    TensorSpec,
    TimeoutAction,
    batch,
    batch_aware,
    fill_optionals,
    first_value,
    group_by_keys,
    group_by_values,
    model,
    pad_batch,
    sample,
    tensor,
)
from tensorbind.errors import InvalidArgument

__all__ = [
    "DATATYPES",
    "ConstantPadder",
    "DynamicBatcher",
    "InvalidArgument",
    "ModelInfo",
    "QueuePolicy",
    "Request",
    "TensorSpec",
    "TimeoutAction",
    "batch",
    "batch_aware",
    "fill_optionals",
    "first_value",
    "group_by_keys",
    "group_by_values",
    "model",
    "pad_batch",
    "sample",
    "tensor",
]
__version__ = "0.1.0"
