"""The soak's Python model."""

from __future__ import annotations

from typing import Any

import numpy as np


def identity(x: np.ndarray) -> dict[str, Any]:
    return {"y": x}
