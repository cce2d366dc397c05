"""tensorbind side: bench/python-vs-pytriton/identity.py's function, FP32 [-1, -1] (max_batch_size 1)."""

from __future__ import annotations

import os
import sys

import numpy as np
import tensorbind

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from identity import identity


@tensorbind.model(
    inputs={"INPUT0": tensorbind.tensor("FP32", [-1])},
    outputs={"OUTPUT0": tensorbind.tensor("FP32", [-1])},
    max_batch_size=1,
)
def infer(INPUT0: np.ndarray) -> dict[str, np.ndarray]:
    return identity(INPUT0)
