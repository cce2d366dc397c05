"""The Python identity function both servers call: FP32 INPUT0 [1, N] -> OUTPUT0, same array."""

from __future__ import annotations

import numpy as np


def identity(INPUT0: np.ndarray) -> dict[str, np.ndarray]:
    return {"OUTPUT0": INPUT0}
