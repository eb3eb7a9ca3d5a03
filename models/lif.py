"""Leaky integrate-and-fire neurons: one float step function, thin multi-step modules.

STAA-SNN eq. (1)-(3), with V_reset = 0 (hard reset):

    V[t] = H[t-1] + (I[t] - H[t-1]) / tau  =  M * H[t-1] + N * I[t]
    S[t] = Theta(V[t] - v_th)
    H[t] = V[t] * (1 - S[t])

with M = 1 - 1/tau and N = 1/tau for plain LIF, and learnable per-channel M, N
for the adaptive LIF of eq. (6).  The reset is not detached from the graph
(the paper's eq. (3) is differentiated as written).

Shapes: sequences are (T, B, C, ...) floats in units of the threshold (v_th = 1);
spikes are 0/1 floats of the same shape.
"""

from __future__ import annotations

import torch
from torch import nn

from spikefold.models.surrogate import spike


def per_channel(p: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """View a (C,) parameter so it broadcasts over a (B, C, ...) tensor."""
    return p.view(1, -1, *([1] * (like.dim() - 2)))


def fire(v: torch.Tensor, v_th: float, width: float = 1.0, surrogate: str = "rect",
         detach_reset: bool = False):
    """Spike and hard reset, eq. (2)-(3): V[t] -> (H[t], S[t]).  detach_reset: the reset's
    dependence on S carries no gradient (SpikingJelly's detach_reset=True)."""
    s = spike(v - v_th, width, surrogate)
    return v * (1.0 - (s.detach() if detach_reset else s)), s


def leaky_step(h: torch.Tensor, i: torch.Tensor, m, n, v_th: float, width: float = 1.0,
               surrogate: str = "rect", detach_reset: bool = False):
    """One LIF step: (H[t-1], I[t]) -> (H[t], S[t]).  m, n: scalars or broadcastable tensors."""
    return fire(m * h + n * i, v_th, width, surrogate, detach_reset)


class LIF(nn.Module):
    """Plain LIF over a sequence: (T, B, ...) input currents -> (T, B, ...) spikes."""

    def __init__(self, tau: float = 2.0, v_th: float = 1.0, surrogate_width: float = 1.0,
                 surrogate: str = "rect", detach_reset: bool = False):
        super().__init__()
        if tau < 1.0:
            raise ValueError(f"tau must be >= 1 (got {tau})")
        self.tau, self.v_th, self.width = tau, v_th, surrogate_width
        self.surrogate, self.detach_reset = surrogate, detach_reset

    def settings(self) -> dict:
        """The constructor arguments of a plain LIF like this one."""
        return {"tau": self.tau, "v_th": self.v_th, "surrogate_width": self.width,
                "surrogate": self.surrogate, "detach_reset": self.detach_reset}

    def coefficients(self, like: torch.Tensor):
        """(M, N) = (1 - 1/tau, 1/tau): weights of H[t-1] and I[t] in V[t]."""
        return 1.0 - 1.0 / self.tau, 1.0 / self.tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, n = self.coefficients(x[0])
        h = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            h, s = leaky_step(h, x[t], m, n, self.v_th, self.width, self.surrogate, self.detach_reset)
            out.append(s)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, v_th={self.v_th}"


class AdaptiveLIF(LIF):
    """LIF with learnable per-channel M, N (eq. 6), initialised to 1 - 1/tau and 1/tau."""

    def __init__(self, channels: int, tau: float = 2.0, v_th: float = 1.0,
                 surrogate_width: float = 1.0):
        super().__init__(tau, v_th, surrogate_width)
        self.m = nn.Parameter(torch.full((channels,), 1.0 - 1.0 / tau))
        self.n = nn.Parameter(torch.full((channels,), 1.0 / tau))

    def coefficients(self, like: torch.Tensor):
        return per_channel(self.m, like), per_channel(self.n, like)
