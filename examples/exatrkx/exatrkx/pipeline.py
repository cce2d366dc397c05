"""The six stages called directly in one process: the reference the served answers must equal.

The TorchScript networks and the Python stages are the very files of model_repository/, and the
cuts and radius are read from its config.pbtxt files, so there is one definition of each stage.
"""

from __future__ import annotations

import importlib.util
import os
import re
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

# TorchScript is what Triton's libtorch backend loads; its deprecation notice is noise here.
warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")

# One intra-op thread per worker by default: several workers share the cores, and idle-spinning
# thread pools slow a busy machine down by an order of magnitude.
torch.set_num_threads(int(os.environ.get("EXATRKX_TORCH_THREADS", "1")))
REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"


def load_stage(name: str, repository: Path = REPOSITORY) -> ModuleType:
    """A Python-backend stage's model.py, imported as a plain module."""
    path = repository / name / "1" / "model.py"
    spec = importlib.util.spec_from_file_location(f"exatrkx_stage_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parameters(name: str, repository: Path = REPOSITORY) -> dict[str, str]:
    """The `parameters` of a model's config.pbtxt (key and string_value pairs)."""
    text = (repository / name / "config.pbtxt").read_text()
    pattern = r'key:\s*"([^"]+)"\s*value:\s*\{\s*string_value:\s*"([^"]*)"'
    return dict(re.findall(pattern, text))


class Pipeline:
    """embed -> frnn -> filter -> applyfilter -> gnn -> wcc, on `device` (frnn and wcc on it too when a GPU)."""

    def __init__(self, repository: Path = REPOSITORY, device: str = "cpu"):
        self.device = torch.device(device)
        self.embed = torch.jit.load(str(repository / "embed/1/model.pt"), map_location=self.device)
        self.filter = torch.jit.load(str(repository / "filter/1/model.pt"), map_location=self.device)
        self.gnn = torch.jit.load(str(repository / "gnn/1/model.pt"), map_location=self.device)
        self.frnn = load_stage("frnn", repository)
        self.applyfilter = load_stage("applyfilter", repository)
        self.wcc = load_stage("wcc", repository)
        p = {name: parameters(name, repository) for name in ("frnn", "applyfilter", "wcc")}
        self.radius = float(p["frnn"].get("radius", self.frnn.RADIUS))
        self.k_max = int(p["frnn"].get("k_max", self.frnn.K_MAX))
        self.filter_cut = float(p["applyfilter"].get("cut", self.applyfilter.CUT))
        self.gnn_cut = float(p["wcc"].get("cut", self.wcc.CUT))
        self.best_edge = p["wcc"].get("best_edge", "true") == "true"

    @torch.inference_mode()
    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(self.device)
        embedding = self.embed(x)
        if self.device.type == "cuda":
            pairs = self.frnn.frnn_torch(embedding, self.radius, self.k_max).cpu().numpy()
        else:
            pairs = self.frnn.frnn_cpu(embedding.numpy(), self.radius, self.k_max)
        edges = self.frnn.orient(pairs, features)
        scores = self.filter(x, torch.from_numpy(edges).to(self.device)).cpu().numpy()
        kept = self.applyfilter.applyfilter(edges, scores, self.filter_cut)
        kept_t = torch.from_numpy(kept).to(self.device)
        gnn_scores = self.gnn(x, kept_t)
        if self.device.type == "cuda":
            return (
                self.wcc.wcc_torch(len(features), kept_t, gnn_scores, self.gnn_cut, self.best_edge)
                .cpu()
                .numpy()
            )
        return self.wcc.wcc(len(features), kept, gnn_scores.numpy(), self.gnn_cut, self.best_edge)
