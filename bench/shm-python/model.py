"""The identity model of bench/shm-python: what goes in comes out."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorbind


@tensorbind.model(
    inputs={"INPUT0": ("FP32", [-1])}, outputs={"OUTPUT0": ("FP32", [-1])}
)
def identity(INPUT0: np.ndarray) -> dict[str, Any]:
    return {"OUTPUT0": INPUT0}
