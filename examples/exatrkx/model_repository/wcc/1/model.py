"""wcc: weakly connected components over the edges the GNN keeps -> a track label per point.

FEATURES FP32 [N, 3] (for N), EDGES INT64 [2, E], SCORES FP32 [E] -> LABELS INT64 [N].
Labels number the components in order of their smallest point index (0, 1, …), so the same
graph gives the same labels whatever finds it. Parameter (config.pbtxt): cut.
"""

from __future__ import annotations

import json

import numpy as np

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside a server (the direct pipeline, training)
    pb_utils = None

CUT = 0.75


def wcc(n: int, edges: np.ndarray, scores: np.ndarray, cut: float = CUT) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    kept = edges[:, scores > cut]
    graph = coo_matrix((np.ones(kept.shape[1], dtype=np.int8), (kept[0], kept[1])), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    return labels.astype(np.int64)


class TritonPythonModel:
    def initialize(self, args):
        params = json.loads(args["model_config"]).get("parameters", {})
        self.cut = float(params.get("cut", {}).get("string_value", CUT))

    def execute(self, requests):
        responses = []
        for request in requests:
            n = pb_utils.get_input_tensor_by_name(request, "FEATURES").as_numpy().shape[0]
            edges = pb_utils.get_input_tensor_by_name(request, "EDGES").as_numpy()
            scores = pb_utils.get_input_tensor_by_name(request, "SCORES").as_numpy()
            labels = wcc(n, edges, scores, self.cut)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("LABELS", labels)]))
        return responses
