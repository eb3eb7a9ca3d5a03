"""TimeDistributed: a stateless module applied to every timestep of a (T, B, ...) sequence at once."""
from __future__ import annotations

import torch
from torch import nn


class TimeDistributed(nn.Module):
    """Apply a stateless module to every timestep: (T, B, ...) -> (T, B, ...)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.module(x.flatten(0, 1))
        return y.view(*x.shape[:2], *y.shape[1:])
