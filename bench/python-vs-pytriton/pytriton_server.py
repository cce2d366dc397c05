"""PyTriton side: the same identity function (identity.py) bound as model `identity`,
FP32 INPUT0/OUTPUT0 of shape [-1] with max_batch_size 1, so tritonserver exposes [-1, -1]
like tensorbind. Usage: pytriton_server.py HTTP_PORT GRPC_PORT METRICS_PORT"""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from identity import identity

logging.basicConfig(level=logging.WARNING)
http_port, grpc_port, metrics_port = (int(a) for a in sys.argv[1:4])


@batch
def infer(INPUT0: np.ndarray) -> dict[str, np.ndarray]:
    return identity(INPUT0)


config = TritonConfig(http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port, log_verbose=0)
# no access-token restriction: tensorbind has none, and perf_analyzer reads model config and
# statistics over the protocols PyTriton restricts by default
with Triton(config=config, security_config=TritonSecurityConfig(restricted_endpoints=[])) as triton:
    triton.bind(
        model_name="identity",
        infer_func=infer,
        inputs=[Tensor(name="INPUT0", dtype=np.float32, shape=(-1,))],
        outputs=[Tensor(name="OUTPUT0", dtype=np.float32, shape=(-1,))],
        config=ModelConfig(max_batch_size=1),
    )
    triton.serve()
