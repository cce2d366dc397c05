"""wcc: weakly connected components over the edges the GNN keeps -> a track label per point.

FEATURES FP32 [N, 3] (for N), EDGES INT64 [2, E], SCORES FP32 [E] -> LABELS INT64 [N].
Labels number the components in order of their smallest point index (0, 1, …), so the same
graph gives the same labels whatever finds it. Parameters (config.pbtxt): cut; best_edge
("true": of the edges above the cut, keep only those that are both their inner point's best
outgoing and their outer point's best incoming edge, so one stray edge cannot merge two tracks).
"""

from __future__ import annotations

import json

import numpy as np

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside a server (the direct pipeline, training)
    pb_utils = None

CUT = 0.75


def best_edges(n: int, edges: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The edges scoring highest (ties kept) out of their inner point and into their outer point."""
    keep = np.ones(edges.shape[1], dtype=bool)
    for side in (0, 1):
        best = np.full(n, -1.0, dtype=np.float32)
        np.maximum.at(best, edges[side], scores)
        keep &= scores >= best[edges[side]]
    return edges[:, keep]


def wcc(
    n: int, edges: np.ndarray, scores: np.ndarray, cut: float = CUT, best_edge: bool = True
) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    above = scores > cut
    kept = best_edges(n, edges[:, above], scores[above]) if best_edge else edges[:, above]
    graph = coo_matrix((np.ones(kept.shape[1], dtype=np.int8), (kept[0], kept[1])), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    return labels.astype(np.int64)


def wcc_torch(n: int, edges, scores, cut: float = CUT, best_edge: bool = True):
    """The same labels on a GPU (torch tensors in, INT64 tensor out), without SciPy: every point
    takes the smallest label among its neighbours until nothing changes, then the labels are
    renumbered by their smallest point, as SciPy numbers components."""
    import torch

    above = scores > cut
    e, s = edges[:, above], scores[above]
    if best_edge and e.shape[1]:
        keep = torch.ones(e.shape[1], dtype=torch.bool, device=e.device)
        for side in (0, 1):
            best = torch.full((n,), -1.0, device=e.device).scatter_reduce(0, e[side], s, reduce="amax")
            keep &= s >= best[e[side]]
        e = e[:, keep]
    labels = torch.arange(n, device=edges.device)
    while True:
        low = torch.minimum(labels[e[0]], labels[e[1]])
        new = labels.scatter_reduce(0, e[0], low, reduce="amin").scatter_reduce(0, e[1], low, reduce="amin")
        new = new[new]  # pointer jumping: follow labels to their own labels
        if torch.equal(new, labels):
            break
        labels = new
    _, dense = torch.unique(labels, return_inverse=True)  # sorted by smallest point = SciPy's order
    return dense.to(torch.int64)


class TritonPythonModel:
    def initialize(self, args):
        params = json.loads(args["model_config"]).get("parameters", {})
        self.cut = float(params.get("cut", {}).get("string_value", CUT))
        self.best_edge = params.get("best_edge", {}).get("string_value", "true") == "true"
        self.device = None
        if args.get("model_instance_kind") == "GPU":
            import torch

            self.device = torch.device(f"cuda:{args.get('model_instance_device_id', 0)}")

    def execute(self, requests):
        responses = []
        for request in requests:
            n = pb_utils.get_input_tensor_by_name(request, "FEATURES").as_numpy().shape[0]
            edges = pb_utils.get_input_tensor_by_name(request, "EDGES").as_numpy()
            scores = pb_utils.get_input_tensor_by_name(request, "SCORES").as_numpy()
            if self.device is not None:
                import torch

                e = torch.from_numpy(np.array(edges)).to(self.device)
                sc = torch.from_numpy(np.array(scores)).to(self.device)
                labels = wcc_torch(n, e, sc, self.cut, self.best_edge).cpu().numpy()
            else:
                labels = wcc(n, edges, scores, self.cut, self.best_edge)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("LABELS", labels)]))
        return responses
