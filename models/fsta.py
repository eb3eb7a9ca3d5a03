"""FSTA: frequency-based spatial-temporal attention on a layer's input sequence, then LIF.

For x of shape (T, B, C, H, W) (one layer's input currents; (T, B, C) inputs are
treated as (T, B, C, 1, 1)):
    temporal:  m = a * AvgPool_HW(x) + b * MaxPool_HW(x)          (T, B, C), a, b learnable (0.5)
               w[b, t] = sigmoid( mean_C( W_T m ) )              W_T: bias-free T x T map along time
               x_t = x * w + x
    spatial:   z = mean_T(x_t);  f_k = sum_C DCT_k * z           49 fixed 7x7 2-D DCT-II filters, pad 3
               s[b, h, w] = sigmoid( Conv7x7_{49 -> 1}(f) )      learned, no bias
               x_s = x_t * s + x_t
    output:    (p * x_t + q * x_s) / 2                           p, q learnable (0.6, 0.5)
The reference LIF of FSTA networks: V = decay * H + I, threshold 0.5, hard reset
(decay 0.25); both are parameters of `FSTALIF`, not constants.

Written from the description of the authors' public code (MIT) in the issue, restated
as mathematics; no code was copied.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spikefold.models.lif import leaky_step


def dct_filters(size: int = 7) -> torch.Tensor:
    """(size*size, 1, size, size): the orthonormal 2-D DCT-II basis, frequency (u, v) at index u*size+v."""
    pos = torch.arange(size, dtype=torch.float64)
    basis = []
    for u in range(size):
        for v in range(size):
            fu = torch.cos(math.pi * u * (pos + 0.5) / size) * math.sqrt((1 if u == 0 else 2) / size)
            fv = torch.cos(math.pi * v * (pos + 0.5) / size) * math.sqrt((1 if v == 0 else 2) / size)
            basis.append(torch.outer(fu, fv))
    return torch.stack(basis).unsqueeze(1).to(torch.get_default_dtype())


class FSTA(nn.Module):
    """(T, B, C, H, W) -> same shape."""

    def __init__(self, timesteps: int, size: int = 7):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.5))
        self.b = nn.Parameter(torch.tensor(0.5))
        self.time = nn.Linear(timesteps, timesteps, bias=False)
        self.register_buffer("dct", dct_filters(size))
        self.spatial = nn.Conv2d(size * size, 1, size, padding=size // 2, bias=False)
        self.p = nn.Parameter(torch.tensor(0.6))
        self.q = nn.Parameter(torch.tensor(0.5))

    def weights(self, x: torch.Tensor):
        """(w (T, B, 1, 1, 1), s (1, B, 1, H, W)): the temporal and spatial gates for x (T, B, C, H, W)."""
        m = self.a * x.mean(dim=(3, 4)) + self.b * x.amax(dim=(3, 4))          # (T, B, C)
        mixed = self.time(m.permute(1, 2, 0)).permute(2, 0, 1)                  # along time
        w = torch.sigmoid(mixed.mean(dim=2))[..., None, None, None]             # (T, B, 1, 1, 1)
        xt = x * w + x
        z = xt.mean(0).sum(1, keepdim=True)      # sum over C commutes with each (linear) DCT filter
        f = F.conv2d(z, self.dct, padding=self.dct.shape[-1] // 2)              # (B, 49, H, W)
        s = torch.sigmoid(self.spatial(f)).unsqueeze(0)                         # (1, B, 1, H, W)
        return w, s

    def gain(self, x: torch.Tensor) -> torch.Tensor:
        """g with FSTA(x) = x * g: (1 + w) (p + q (1 + s)) / 2, shape (T, B, 1, H, W)."""
        w, s = self.weights(x)
        return (1 + w) * (self.p + self.q * (1 + s)) / 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, s = self.weights(x)
        xt = x * w + x
        xs = xt * s + xt
        return (self.p * xt + self.q * xs) / 2


class FSTALIF(nn.Module):
    """FSTA on the input currents, then LIF V = decay * H + I: (T, B, C, ...) -> spikes."""

    def __init__(self, timesteps: int, decay: float = 0.25, v_th: float = 0.5,
                 surrogate_width: float = 1.0):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must lie in [0, 1) (got {decay})")
        self.fsta = FSTA(timesteps)
        self.decay, self.v_th, self.width = decay, v_th, surrogate_width

    def coefficients(self, like: torch.Tensor):
        return self.decay, 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.dim() == 3
        y = self.fsta(x[..., None, None] if flat else x)
        y = y[..., 0, 0] if flat else y
        h = torch.zeros_like(y[0])
        out = []
        for t in range(y.shape[0]):
            h, s = leaky_step(h, y[t], self.decay, 1.0, self.v_th, self.width)
            out.append(s)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return f"decay={self.decay}, v_th={self.v_th}"
