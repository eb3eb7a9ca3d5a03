"""SMA: spiking multiscale attention over branch spikes, with Attention ZoneOut (AZO).

`SMALIF` is the neuron kind "sma": a LIF turns the layer's input currents into spikes X
(T, B, C, H, W); four branches k in (1, 3, 5, 7) each apply conv_k (C -> C, padding k//2),
BatchNorm and a LIF, giving spikes S_i; then
    U = sum_i S_i;  z_c = mean_HW(U) (T, B, C);  z_t = mean_CHW(U) (T, B)
    channel attention  A_C,i = softmax_i( conv1x1_i( ReLU( conv1x1_{C -> C/4}(z_c) ) ) )   (T, B, C)
    temporal attention A_T,i = softmax_i( fc_i( ReLU( fc_{T -> T/4}(z_t) ) ) )             (T, B)
    output O = sum_i A_T,i * A_C,i * S_i
AZO, in training only: at the least-attended timesteps (fraction `azo_t`, never t = 0) and
channels (fraction `azo_c`), ranked by the batch-mean attention sum_i A_T,i A_C,i, the
output keeps its value from the previous timestep.  Never at evaluation.

Written from the description of the authors' public code (MIT) in the issue, restated as
mathematics; no code was copied.
"""
from __future__ import annotations

import torch
from torch import nn

from models.time_distributed import TimeDistributed
from models.lif import LIF

KERNELS = (1, 3, 5, 7)


class SMA(nn.Module):
    """Attention weights over branch spikes: (T, B, C, H, W) x n -> A (n, T, B, C)."""

    def __init__(self, channels: int, timesteps: int, branches: int = len(KERNELS), reduction: int = 4):
        super().__init__()
        hc, ht = max(1, channels // reduction), max(1, timesteps // reduction)
        self.channel_in = nn.Linear(channels, hc)
        self.channel_out = nn.ModuleList(nn.Linear(hc, channels) for _ in range(branches))
        self.time_in = nn.Linear(timesteps, ht)
        self.time_out = nn.ModuleList(nn.Linear(ht, timesteps) for _ in range(branches))

    def forward(self, spikes: list[torch.Tensor]) -> torch.Tensor:
        u = torch.stack(spikes).sum(0)                                   # (T, B, C, H, W)
        zc = u.mean(dim=(3, 4))                                          # (T, B, C)
        zt = u.mean(dim=(2, 3, 4)).transpose(0, 1)                       # (B, T)
        hc, ht = torch.relu(self.channel_in(zc)), torch.relu(self.time_in(zt))
        a_c = torch.softmax(torch.stack([f(hc) for f in self.channel_out]), dim=0)            # (n, T, B, C)
        a_t = torch.softmax(torch.stack([f(ht).transpose(0, 1) for f in self.time_out]), dim=0)  # (n, T, B)
        return a_t[..., None] * a_c


class SMALIF(nn.Module):
    """LIF -> four conv-BN-LIF branches -> attention-weighted sum: (T, B, C, H, W) -> (T, B, C, H, W)."""

    def __init__(self, channels: int, timesteps: int, tau: float = 2.0, v_th: float = 1.0,
                 surrogate_width: float = 1.0, azo_t: float = 0.25, azo_c: float = 0.25):
        super().__init__()
        self.lif = LIF(tau, v_th, surrogate_width)
        self.branches = nn.ModuleList(nn.Sequential(
            TimeDistributed(nn.Sequential(nn.Conv2d(channels, channels, k, padding=k // 2, bias=False),
                                          nn.BatchNorm2d(channels))),
            LIF(tau, v_th, surrogate_width)) for k in KERNELS)
        self.attention = SMA(channels, timesteps)
        self.azo_t, self.azo_c = azo_t, azo_c

    def branch_spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        s = self.lif(x)
        return [b(s) for b in self.branches]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError("SMA needs (T, B, C, H, W) feature maps")
        spikes = self.branch_spikes(x)
        a = self.attention(spikes)                                       # (n, T, B, C)
        out = sum(a[i][..., None, None] * s for i, s in enumerate(spikes))
        if self.training and (self.azo_t > 0 or self.azo_c > 0):
            out = self.zone_out(out, a.sum(0).detach())
        return out

    def zone_out(self, out: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        """Keep the previous timestep's output at the least-attended timesteps and channels."""
        T, _, C = score.shape
        keep = torch.zeros(T, C, dtype=torch.bool, device=out.device)
        n_t, n_c = int(self.azo_t * (T - 1)), int(self.azo_c * C)
        if n_t:
            t_rank = score.mean(dim=(1, 2))[1:].argsort()[:n_t] + 1
            keep[t_rank] = True
        if n_c:
            c_rank = score.mean(dim=(0, 1)).argsort()[:n_c]
            keep[1:, c_rank] = True
        zoned = [out[0]]
        for t in range(1, T):
            zoned.append(torch.where(keep[t][None, :, None, None], zoned[-1], out[t]))
        return torch.stack(zoned)
