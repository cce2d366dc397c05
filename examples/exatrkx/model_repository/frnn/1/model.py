"""frnn: fixed-radius nearest neighbours in the embedding -> candidate edges.

EMBEDDING FP32 [N, 8], FEATURES FP32 [N, 3] -> EDGES INT64 [2, E], each edge from the inner
point to the outer one (by r), at most `k_max` neighbours per point (the nearest kept). On a CPU
instance a SciPy KD-tree finds the pairs; on a GPU instance `torch.cdist` in blocks of rows.
Parameters (config.pbtxt): radius, k_max.
"""

from __future__ import annotations

import json

import numpy as np

try:
    import triton_python_backend_utils as pb_utils
except ImportError:  # imported outside a server (the direct pipeline, training)
    pb_utils = None

RADIUS = 1.0
K_MAX = 500
BLOCK = 8192  # rows of the distance matrix per GPU block


def frnn_cpu(embedding: np.ndarray, radius: float = RADIUS, k_max: int = K_MAX) -> np.ndarray:
    """Pairs (i, j), i < j, closer than `radius`, as INT64 [2, E] (unoriented)."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(embedding).query_pairs(radius, output_type="ndarray").astype(np.int64)
    if len(pairs) and k_max > 0:
        d = np.linalg.norm(embedding[pairs[:, 0]] - embedding[pairs[:, 1]], axis=1)
        pairs = cap_degree(pairs, d, len(embedding), k_max)
    return np.ascontiguousarray(pairs.T)


def cap_degree(pairs: np.ndarray, d: np.ndarray, n: int, k_max: int) -> np.ndarray:
    """Keeps, for each point, its `k_max` nearest pairs (a pair stays when either end keeps it)."""
    if np.bincount(pairs.ravel(), minlength=n).max() <= k_max:
        return pairs
    keep = np.zeros(len(pairs), dtype=bool)
    for side in (0, 1):
        order = np.lexsort((d, pairs[:, side]))
        first = np.searchsorted(pairs[order, side], pairs[order, side], side="left")
        rank = np.arange(len(order)) - first
        keep[order[rank < k_max]] = True
    return pairs[keep]


def frnn_torch(embedding, radius: float = RADIUS, k_max: int = K_MAX):
    """The same pairs with torch.cdist in blocks (for a GPU); returns a torch INT64 [2, E]."""
    import torch

    n = embedding.shape[0]
    found = []
    for start in range(0, n, BLOCK):
        d = torch.cdist(embedding[start : start + BLOCK], embedding)
        rows, cols = torch.nonzero(d < radius, as_tuple=True)
        rows = rows + start
        upper = rows < cols
        found.append(torch.stack([rows[upper], cols[upper]]))
    pairs = torch.cat(found, dim=1) if found else torch.zeros((2, 0), dtype=torch.int64)
    if pairs.shape[1] and k_max > 0:
        degree = torch.bincount(pairs.reshape(-1), minlength=n)
        if int(degree.max()) > k_max:  # rare: do the capping on the CPU, as frnn_cpu does
            e = embedding.detach().cpu().numpy()
            p = pairs.T.cpu().numpy()
            kept = cap_degree(p, np.linalg.norm(e[p[:, 0]] - e[p[:, 1]], axis=1), n, k_max)
            pairs = torch.from_numpy(np.ascontiguousarray(kept.T)).to(embedding.device)
    return pairs


def orient(pairs: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Each edge from the smaller r to the larger; pairs on one layer (same r) are dropped."""
    r = features[:, 0]
    a, b = pairs
    dr = r[b] - r[a]
    keep = np.abs(dr) > 1e-6
    inner = np.where(dr > 0, a, b)[keep]
    outer = np.where(dr > 0, b, a)[keep]
    edges = np.stack([inner, outer])
    # A canonical order, so CPU and GPU give identical tensors for identical pair sets.
    order = np.lexsort((edges[1], edges[0]))
    return np.ascontiguousarray(edges[:, order])


def frnn(
    embedding: np.ndarray,
    features: np.ndarray,
    radius: float = RADIUS,
    k_max: int = K_MAX,
) -> np.ndarray:
    return orient(frnn_cpu(embedding, radius, k_max), features)


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.radius = float(params.get("radius", RADIUS))
        self.k_max = int(params.get("k_max", K_MAX))
        self.device = None
        if args.get("model_instance_kind") == "GPU":
            import torch

            self.device = torch.device(f"cuda:{args.get('model_instance_device_id', 0)}")

    def execute(self, requests):
        responses = []
        for request in requests:
            embedding = pb_utils.get_input_tensor_by_name(request, "EMBEDDING").as_numpy()
            features = pb_utils.get_input_tensor_by_name(request, "FEATURES").as_numpy()
            if self.device is not None:
                import torch

                e = torch.from_numpy(np.array(embedding)).to(self.device)
                pairs = frnn_torch(e, self.radius, self.k_max).cpu().numpy()
            else:
                pairs = frnn_cpu(embedding, self.radius, self.k_max)
            edges = orient(pairs, features)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("EDGES", edges)]))
        return responses
