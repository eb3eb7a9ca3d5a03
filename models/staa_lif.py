"""STAA-LIF: the LIF neuron with the Spatial-Temporal Attention Aggregator, eq. (11)-(14), and TSRD.

Per timestep t, for input currents I[t] of shape (B, C, H, W) or (B, C):

    X[t] = I[t] + Pos[t, c]                                  PE, eq. (11)
    U[t] = N * GC1(X[t]) + M * GC2(H[t-1])                   GC, eq. (13) with eq. (6)'s M, N
    V[t] = SA(U[t])                                          SA, eq. (14)
    S[t] = Theta(V[t] - v_th),  H[t] = V[t] * (1 - S[t])     as LIF, eq. (2)-(3)

Choices where the paper is silent (each switchable):
  * M and N (per channel, learnable, init 1 - 1/tau and 1/tau) weight the two
    aggregated terms as eq. (6) weights H and I; `adaptive=False` fixes them.
  * `gc`, `pe`, `sa` switch each component off (the ablation of Table 4); off
    means the identity (GC(X) = X, no Pos, SA(U) = U).
  * TSRD (training only): at each timestep t in (0, T), i.e. never the first,
    with probability `tsrd_beta` the aggregator is dropped for the whole batch
    and U[t] = N * X[t] + M * H[t-1] (plain addition, PE kept).  In eval mode
    it is never applied, so inference is deterministic.

Static attention (`attention="static"`, the deployable STAA): no chip multiplies by
a data-dependent gate, so GC's contexts, SA's gate and PE's mean over t are
replaced by the constants the compiler's calibrated folds compute
(`compile.freeze.freeze_attention`), which leaves

    V[t] = M * H[t-1] + N * I[t] + drive                     drive (C,): trainable

with M, N and drive already holding SA's gate.  Trained in this form for a few
epochs, the checkpoint *is* what the chip runs: its lowering is exact.
"""

from __future__ import annotations

import torch
from torch import nn

from spikefold.models.attention import GlobalContext, StepAttention
from spikefold.models.lif import fire, per_channel

ATTENTION = ("dynamic", "static")


class STAALIF(nn.Module):
    """(T, B, C, ...) input currents -> (T, B, C, ...) spikes."""

    def __init__(self, channels: int, timesteps: int, tau: float = 2.0, v_th: float = 1.0,
                 surrogate_width: float = 1.0, gc: bool = True, pe: bool = True,
                 sa: bool = True, adaptive: bool = True, gc_ratio: int = 4,
                 gc_pool: str = "sum", sa_reduction: int = 16, sa_alpha: float = 2.0, sa_scale: float = 1.0,
                 tsrd_beta: float = 0.0, attention: str = "dynamic"):
        super().__init__()
        if not 0.0 <= tsrd_beta <= 1.0:
            raise ValueError(f"tsrd_beta must lie in [0, 1] (got {tsrd_beta})")
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION)} (got {attention!r})")
        self.channels, self.timesteps = channels, timesteps
        self.tau, self.v_th, self.width, self.tsrd_beta = tau, v_th, surrogate_width, tsrd_beta
        self.static = attention == "static"
        live = not self.static
        self.pos = nn.Parameter(torch.zeros(timesteps, channels)) if pe and live else None
        self.gc_in = GlobalContext(channels, gc_ratio, gc_pool) if gc and live else None
        self.gc_mem = GlobalContext(channels, gc_ratio, gc_pool) if gc and live else None
        self.sa = StepAttention(channels, sa_reduction, sa_alpha, sa_scale) if sa and live else None
        m0, n0 = torch.full((channels,), 1.0 - 1.0 / tau), torch.full((channels,), 1.0 / tau)
        if adaptive:
            self.m, self.n = nn.Parameter(m0), nn.Parameter(n0)
        else:
            self.register_buffer("m", m0)
            self.register_buffer("n", n0)
        self.drive = nn.Parameter(torch.zeros(channels)) if self.static else None   # after m, n: the order
                                                                                 # make_static leaves

    @torch.no_grad()
    def make_static(self, leak, gain, drive) -> None:
        """Become the static STAA-LIF V = leak * H + gain * I + drive (each (C,), the folded node's
        values): GC, SA and PE are dropped; M and N keep their place (parameters if adaptive,
        buffers if not) and drive is a new parameter, so the module is what __init__ builds with
        attention="static" (a resumed optimiser finds its state on the same parameters)."""
        as_tensor = lambda a: torch.as_tensor(a, dtype=self.m.dtype, device=self.m.device)
        self.m.copy_(as_tensor(leak))
        self.n.copy_(as_tensor(gain))
        self.drive = nn.Parameter(as_tensor(drive).clone())
        self.pos = self.gc_in = self.gc_mem = self.sa = None
        self.static = True

    def tsrd_mask(self, timesteps: int) -> list[bool]:
        """Which timesteps drop the aggregator this forward pass (never in eval)."""
        if not (self.training and self.tsrd_beta > 0):
            return [False] * timesteps
        drop = torch.rand(timesteps) < self.tsrd_beta
        drop[0] = False
        return drop.tolist()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[0]
        m, n = per_channel(self.m, x[0]), per_channel(self.n, x[0])
        if self.static:
            return self._static_forward(x, m, n, per_channel(self.drive, x[0]))
        if self.pos is not None:
            if steps > self.timesteps:
                raise ValueError(f"STAA-LIF was built for T={self.timesteps}, got {steps} steps")
            x = x + self.pos[:steps].view(steps, 1, self.channels, *([1] * (x.dim() - 3)))
        # GC1 needs no state: run it on all timesteps at once.
        gx = self.gc_in(x.flatten(0, 1)).view_as(x) if self.gc_in is not None else x
        drop = self.tsrd_mask(steps)
        h = torch.zeros_like(x[0])
        out = []
        for t in range(steps):
            if drop[t]:
                v = n * x[t] + m * h
            else:
                hm = self.gc_mem(h) if self.gc_mem is not None else h
                v = n * gx[t] + m * hm
                if self.sa is not None:
                    v = self.sa(v)
            h, s = fire(v, self.v_th, self.width)
            out.append(s)
        return torch.stack(out)

    def _static_forward(self, x, m, n, drive) -> torch.Tensor:
        h = torch.zeros_like(x[0])
        out = []
        for t in range(x.shape[0]):
            h, s = fire(m * h + n * x[t] + drive, self.v_th, self.width)
            out.append(s)
        return torch.stack(out)

    def extra_repr(self) -> str:
        parts = [f"channels={self.channels}", f"T={self.timesteps}", f"tau={self.tau}"]
        parts += [f"tsrd_beta={self.tsrd_beta}"] + (["attention=static"] if self.static else [])
        return ", ".join(parts)
