"""Python models for test/conformance/test_shared_memory.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorbind


@tensorbind.model(
    inputs={"INPUT0": ("FP32", [-1])}, outputs={"OUTPUT0": ("FP32", [-1])}
)
def identity(INPUT0: np.ndarray) -> dict[str, Any]:
    return {"OUTPUT0": INPUT0}


def _mapping_of(address: int) -> str:
    """The file behind the mapping that holds `address`, from /proc/self/maps."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= address < hi:
                return parts[5].strip() if len(parts) > 5 else ""
    return ""


@tensorbind.model(
    inputs={"INPUT0": ("FP32", [-1])},
    outputs={"OUTPUT0": ("FP32", [-1]), "MAPPING": ("BYTES", [1])},
)
def where(INPUT0: np.ndarray) -> dict[str, Any]:
    """The input doubled, and the file the input array's memory is mapped from."""
    return {
        "OUTPUT0": INPUT0 * 2,
        "MAPPING": np.array([_mapping_of(INPUT0.ctypes.data).encode()], dtype=object),
    }
