"""The six stages as plain functions for tensorbind's Python workers (models.ts binds them).

The networks are the TorchScript files of model_repository/ and the other stages that
repository's model.py functions, with the cuts of its config.pbtxt files: both ways of serving
run the same code. EXATRKX_DEVICE=cuda:0 puts the networks, frnn and wcc on a GPU.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

# TorchScript is what Triton's libtorch backend loads; its deprecation notice is noise here.
warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exatrkx.pipeline import REPOSITORY, load_stage, parameters

# One intra-op thread per worker by default: several workers share the cores, and idle-spinning
# thread pools slow a busy machine down by an order of magnitude.
torch.set_num_threads(int(os.environ.get("EXATRKX_TORCH_THREADS", "1")))
DEVICE = torch.device(os.environ.get("EXATRKX_DEVICE", "cpu"))
_nets: dict[str, torch.jit.ScriptModule] = {}
_frnn, _applyfilter, _wcc = (load_stage(n) for n in ("frnn", "applyfilter", "wcc"))
RADIUS = float(parameters("frnn").get("radius", _frnn.RADIUS))
K_MAX = int(parameters("frnn").get("k_max", _frnn.K_MAX))
FILTER_CUT = float(parameters("applyfilter").get("cut", _applyfilter.CUT))
GNN_CUT = float(parameters("wcc").get("cut", _wcc.CUT))
BEST_EDGE = parameters("wcc").get("best_edge", "true") == "true"


def _net(name: str) -> torch.jit.ScriptModule:
    if name not in _nets:
        _nets[name] = torch.jit.load(str(REPOSITORY / name / "1" / "model.pt"), map_location=DEVICE)
    return _nets[name]


def _torch(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).to(DEVICE)  # a writable copy: inputs are read-only views


@torch.inference_mode()
def embed(FEATURES: np.ndarray) -> dict[str, np.ndarray]:
    return {"EMBEDDING": _net("embed")(_torch(FEATURES)).cpu().numpy()}


@torch.inference_mode()
def frnn(EMBEDDING: np.ndarray, FEATURES: np.ndarray) -> dict[str, np.ndarray]:
    if DEVICE.type == "cuda":
        pairs = _frnn.frnn_torch(_torch(EMBEDDING), RADIUS, K_MAX).cpu().numpy()
    else:
        pairs = _frnn.frnn_cpu(EMBEDDING, RADIUS, K_MAX)
    return {"EDGES": _frnn.orient(pairs, FEATURES)}


@torch.inference_mode()
def filter(FEATURES: np.ndarray, EDGES: np.ndarray) -> dict[str, np.ndarray]:
    return {"SCORES": _net("filter")(_torch(FEATURES), _torch(EDGES)).cpu().numpy()}


def applyfilter(EDGES: np.ndarray, SCORES: np.ndarray) -> dict[str, np.ndarray]:
    return {"EDGES_OUT": _applyfilter.applyfilter(EDGES, SCORES, FILTER_CUT)}


@torch.inference_mode()
def gnn(FEATURES: np.ndarray, EDGES: np.ndarray) -> dict[str, np.ndarray]:
    return {"SCORES": _net("gnn")(_torch(FEATURES), _torch(EDGES)).cpu().numpy()}


@torch.inference_mode()
def wcc(FEATURES: np.ndarray, EDGES: np.ndarray, SCORES: np.ndarray) -> dict[str, np.ndarray]:
    if DEVICE.type == "cuda":
        labels = _wcc.wcc_torch(FEATURES.shape[0], _torch(EDGES), _torch(SCORES), GNN_CUT, BEST_EDGE)
        return {"LABELS": labels.cpu().numpy()}
    return {"LABELS": _wcc.wcc(FEATURES.shape[0], EDGES, SCORES, GNN_CUT, BEST_EDGE)}
