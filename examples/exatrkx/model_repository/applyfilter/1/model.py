"""applyfilter: keeps the candidate edges whose filter score is above the cut.

EDGES INT64 [2, E], SCORES FP32 [E] -> EDGES INT64 [2, E']. Parameter (config.pbtxt): cut.
"""

from __future__ import annotations

import json

import numpy as np

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside a server (the direct pipeline, training)
    pb_utils = None

CUT = 0.2


def applyfilter(edges: np.ndarray, scores: np.ndarray, cut: float = CUT) -> np.ndarray:
    return np.ascontiguousarray(edges[:, scores > cut])


class TritonPythonModel:
    def initialize(self, args):
        params = json.loads(args["model_config"]).get("parameters", {})
        self.cut = float(params.get("cut", {}).get("string_value", CUT))

    def execute(self, requests):
        responses = []
        for request in requests:
            edges = pb_utils.get_input_tensor_by_name(request, "EDGES").as_numpy()
            scores = pb_utils.get_input_tensor_by_name(request, "SCORES").as_numpy()
            kept = applyfilter(edges, scores, self.cut)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("EDGES_OUT", kept)]))
        return responses
