"""The attention blocks inside STAA-LIF: Global Context (GC, eq. 7-10) and Step Attention (SA, eq. 12).

Both act on one timestep's feature map (N, C, H, W) (a (N, C) input is
treated as (N, C, 1, 1)) and return a tensor of the same shape.
"""

from __future__ import annotations

import torch
from torch import nn


def as_map(x: torch.Tensor) -> torch.Tensor:
    """(N, C) -> (N, C, 1, 1); (N, C, H, W) unchanged."""
    return x[..., None, None] if x.dim() == 2 else x


class GlobalContext(nn.Module):
    """GC block (after GCNet), eq. (7)-(10):

        Wk = X . sigmoid(Conv_k(X))          (C x HW) . (HW x 1) -> C   (eq. 7)
        Wq = Conv_q(Wk)                      C -> C/r                  (eq. 8)
        Wv = Conv_v(ReLU(LN(Wq)))            C/r -> C                  (eq. 9)
        GC(X) = X + Wv                       broadcast over H, W       (eq. 10)

    Choices where the paper is silent: eq. (7) is read literally as a matrix
    product, i.e. a *sum* over the H*W positions (`pool="mean"` divides by H*W
    instead); Conv_v starts at zero, as in GCNet, so GC starts as the identity.
    Parameters: C + 1 (key) + C*C/r + C/r (query) + 2*C/r (LN) + C*C/r + C (value).
    """

    def __init__(self, channels: int, r: int = 4, pool: str = "sum"):
        super().__init__()
        if pool not in ("sum", "mean"):
            raise ValueError(f"pool must be 'sum' or 'mean' (got {pool!r})")
        hidden = max(1, channels // r)
        self.pool = pool
        self.key = nn.Conv2d(channels, 1, 1)
        self.query = nn.Conv2d(channels, hidden, 1)
        self.norm = nn.LayerNorm([hidden, 1, 1])
        self.value = nn.Conv2d(hidden, channels, 1)
        nn.init.zeros_(self.value.weight)
        nn.init.zeros_(self.value.bias)

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """Wv: the (N, C, 1, 1) vector GC adds to every position of x."""
        x = as_map(x)
        n, c, h, w = x.shape
        weights = torch.sigmoid(self.key(x)).view(n, 1, h * w)
        wk = torch.sum(x.reshape(n, c, h * w) * weights, dim=-1)
        if self.pool == "mean":
            wk = wk / (h * w)
        wq = self.query(wk.view(n, c, 1, 1))
        return self.value(torch.relu(self.norm(wq)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ctx = self.context(x)
        return x + (ctx.view(ctx.shape[:2]) if x.dim() == 2 else ctx)


class StepAttention(nn.Module):
    """SA block, eq. (12): V = U * sigmoid(Conv2(ReLU(Conv1(alpha * AvgPool(U))))).

    AvgPool is global over H, W; Conv1: C -> C/reduction, Conv2: back to C,
    both 1x1 with bias (the bias of Conv2 lets the gate be pinned to exactly 1
    with +inf, which the tests use to neutralise SA).  alpha = 2 (paper).
    `scale` multiplies the gate (1: eq. 12; 2: a gate that starts near 1, not 0.5).
    """

    def __init__(self, channels: int, reduction: int = 16, alpha: float = 2.0, scale: float = 1.0):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.alpha, self.scale = alpha, scale
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def gate(self, u: torch.Tensor) -> torch.Tensor:
        """The per-channel gate in (0, scale), shape (N, C, 1, 1)."""
        pooled = self.alpha * as_map(u).mean(dim=(2, 3), keepdim=True)
        g = torch.sigmoid(self.fc2(torch.relu(self.fc1(pooled))))
        return g if self.scale == 1.0 else g * self.scale

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        g = self.gate(u)
        return u * (g.view(g.shape[:2]) if u.dim() == 2 else g)
