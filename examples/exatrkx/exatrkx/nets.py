"""The three networks of the pipeline, in plain PyTorch and TorchScript-able.

- Embed: an MLP from a space point's features to an 8-d embedding where hits of one particle
  lie close together (trained by metric learning).
- Filter: an MLP scoring an edge from its two points' features.
- InteractionNetwork: message passing over the kept edges (edge and node updates, a few
  iterations, Battaglia et al. 2016 as ExaTrkX uses it) scoring each edge again.
Scores are probabilities (a sigmoid inside the model), so the cuts read as in the original.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(sizes: list[int], last_activation: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.LayerNorm(sizes[i + 1]))
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class Embed(nn.Module):
    """FEATURES [N, 3] -> EMBEDDING [N, dim]."""

    def __init__(self, hidden: int = 64, dim: int = 8, depth: int = 3):
        super().__init__()
        self.net = mlp([4] + [hidden] * depth + [dim])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(expand(features))


class Filter(nn.Module):
    """FEATURES [N, 3], EDGES INT64 [2, E] -> SCORES FP32 [E] (probability that the edge is true)."""

    def __init__(self, hidden: int = 64, depth: int = 3):
        super().__init__()
        self.net = mlp([EDGE_INPUTS] + [hidden] * depth + [1])
        # Standardisation of the edge inputs, set from the training edges (see train.py).
        self.register_buffer("edge_mean", torch.zeros(EDGE_INPUTS))
        self.register_buffer("edge_std", torch.ones(EDGE_INPUTS))

    def forward(self, features: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        x = expand(features)
        e = (edge_inputs(x, edges) - self.edge_mean) / self.edge_std
        return torch.sigmoid(self.net(e).squeeze(-1))


class InteractionNetwork(nn.Module):
    """FEATURES [N, 3], EDGES INT64 [2, E] -> SCORES FP32 [E], after `iterations` rounds of messages."""

    def __init__(self, hidden: int = 32, iterations: int = 4):
        super().__init__()
        self.iterations = iterations
        self.node_encoder = mlp([4, hidden, hidden], last_activation=True)
        self.edge_encoder = mlp([EDGE_INPUTS, hidden, hidden], last_activation=True)
        self.edge_update = mlp([3 * hidden, hidden, hidden], last_activation=True)
        self.node_update = mlp([3 * hidden, hidden, hidden], last_activation=True)
        self.output = mlp([3 * hidden, hidden, 1])
        self.register_buffer("edge_mean", torch.zeros(EDGE_INPUTS))
        self.register_buffer("edge_std", torch.ones(EDGE_INPUTS))

    def forward(self, features: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        x0 = expand(features)
        src, dst = edges[0], edges[1]
        h = self.node_encoder(x0)
        e = self.edge_encoder((edge_inputs(x0, edges) - self.edge_mean) / self.edge_std)
        for _ in range(self.iterations):
            e = e + self.edge_update(torch.cat([h[src], h[dst], e], dim=1))
            incoming = torch.zeros_like(h).index_add_(0, dst, e)
            outgoing = torch.zeros_like(h).index_add_(0, src, e)
            h = h + self.node_update(torch.cat([h, incoming, outgoing], dim=1))
        return torch.sigmoid(self.output(torch.cat([h[src], h[dst], e], dim=1)).squeeze(-1))


EDGE_INPUTS = 4 + 4 + 5


def expand(features: torch.Tensor) -> torch.Tensor:
    """(r/1000, phi/pi, z/1000) -> (r, cos phi, sin phi, z): no seam at phi = +-pi."""
    phi = features[:, 1] * torch.pi
    return torch.stack([features[:, 0], torch.cos(phi), torch.sin(phi), features[:, 2]], dim=1)


def edge_inputs(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Both endpoints' expanded features and the segment's shape: dr, dphi, dz, the z where the
    line through both points meets the beam line (z0) and dphi/dr (curvature), per edge."""
    a, b = x[edges[0]], x[edges[1]]
    dphi = torch.atan2(a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2])
    dr = b[:, 0] - a[:, 0]
    dz = b[:, 3] - a[:, 3]
    safe = torch.where(dr.abs() < 1e-3, torch.full_like(dr, 1e-3), dr)
    z0 = a[:, 3] - a[:, 0] * dz / safe
    d = torch.stack([dr, dphi, dz, (10.0 * z0).clamp(-10.0, 10.0), (dphi / safe).clamp(-10.0, 10.0)], dim=1)
    return torch.cat([a, b, d], dim=1)
