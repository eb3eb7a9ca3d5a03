"""SMA: spiking multiscale attention between a block's conv and its BatchNorm, with Attention
ZoneOut (AZO).

Placement, as in the authors' public code (Ym-Shan/Spiking_Multiscale_Attention_Arxiv, MIT;
`SMA VGG/vgg8_dvs128_SMA.py`, restated here as mathematics, no code copied): a block carrying
SMA is  conv -> SMA -> BatchNorm -> LIF  (-> pooling), and only some blocks carry it (blocks 2
and 3 of their five-block VGG-8; `sma_units` scales that choice to any backbone).  SMA's input X
is the conv's real-valued output (T, B, C, H, W).  Four branches k in (1, 3, 5, 7) each apply
conv_k (C -> C, padding k//2), BatchNorm and a LIF to X, giving spikes S_i; then
    U = sum_i S_i;  z_c = mean_HW(U) (T, B, C);  z_t = mean_CHW(U) (T, B)
    channel attention  A_C,i = softmax_i( conv1x1_i( ReLU( conv1x1_{C -> C/4}(z_c) ) ) )   (T, B, C)
    temporal attention A_T,i = softmax_i( fc_i( ReLU( fc_{T -> T/4}(z_t) ) ) )             (T, B)
    O = sum_i A_T,i * A_C,i * S_i,   real-valued: the block's BatchNorm and LIF make it spikes.
AZO, in training only: at the least-attended timesteps (fraction `azo_t`, never t = 0) and, at
those timesteps, the least-attended channels (fraction `azo_c`), ranked by the batch-mean attention
sum_i A_T,i A_C,i, the output keeps its value from the previous timestep (the authors' RTR = 4,
RCR = 10: azo_t = 0.25, azo_c = 0.1).  Never at evaluation.
"""
from __future__ import annotations

import torch
from torch import nn

from spikefold.models.layers import ConvBNSpike
from spikefold.models.lif import LIF
from spikefold.models.time_distributed import TimeDistributed

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


class MultiscaleAttention(nn.Module):
    """The authors' SMA module: conv output X (T, B, C, H, W) -> O (T, B, C, H, W), real-valued."""

    def __init__(self, channels: int, timesteps: int, lif: dict, azo_t: float = 0.25, azo_c: float = 0.25):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(
            TimeDistributed(nn.Sequential(nn.Conv2d(channels, channels, k, padding=k // 2, bias=False),
                                          nn.BatchNorm2d(channels))),
            LIF(**lif)) for k in KERNELS)
        self.attention = SMA(channels, timesteps)
        self.azo_t, self.azo_c = azo_t, azo_c

    def branch_spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [b(x) for b in self.branches]

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
        """Keep the previous timestep's output at the least-attended channels of the least-attended
        timesteps: n_t = int(azo_t T) timesteps among t >= 1 (the authors' T // RTR, t = 0 never),
        and at those the n_c = int(azo_c C) channels of least attention there (C // RCR)."""
        T, _, C = score.shape
        keep = torch.zeros(T, C, dtype=torch.bool, device=out.device)
        n_t, n_c = min(int(self.azo_t * T), T - 1), int(self.azo_c * C)
        if n_t and n_c:
            t_rank = score.mean(dim=(1, 2))[1:].argsort()[:n_t] + 1
            c_rank = score[t_rank].mean(dim=(0, 1)).argsort()[:n_c]
            keep[t_rank[:, None], c_rank[None, :]] = True
        zoned = [out[0]]
        for t in range(1, T):
            zoned.append(torch.where(keep[t][None, :, None, None], zoned[-1], out[t]))
        return torch.stack(zoned)


class SMAConvBNSpike(nn.Module):
    """conv -> SMA -> BatchNorm -> LIF over a sequence (T, B, C, H, W), the unit of a block
    carrying SMA; built from an existing conv-BN-LIF unit's own conv, BN and LIF."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, lif: nn.Module, timesteps: int,
                 azo_t: float, azo_c: float):
        super().__init__()
        self.conv = TimeDistributed(conv)
        self.sma = MultiscaleAttention(conv.out_channels, timesteps, lif.settings(), azo_t, azo_c)
        self.bn = TimeDistributed(bn)
        self.lif = lif

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.bn(self.sma(self.conv(x))))


def sma_units(spec: str, n: int) -> list[int]:
    """Which of a backbone's n conv-BN-LIF units carry SMA.  "auto": the authors' choice scaled,
    blocks 2 and 3 of five, i.e. the units in [n/5, 3n/5) (digitnet's 3 units: the second; VGG-8's
    5: the second and third); else comma-separated 0-based indices."""
    if spec == "auto":
        lo, hi = round(n / 5), max(round(3 * n / 5), round(n / 5) + 1)
        return list(range(lo, min(hi, n)))
    units = sorted({int(v) for v in spec.split(",") if v.strip()})
    if not units or units[0] < 0 or units[-1] >= n:
        raise ValueError(f"sma_units {spec!r}: indices must lie in 0..{n - 1} (the backbone has {n} conv-BN-LIF units)")
    return units


def place_sma(model: nn.Module, cfg) -> nn.Module:
    """Turn the chosen conv-BN-LIF units of `model` into conv-SMA-BN-LIF units, in place."""
    units = [(path, m) for path, m in model.named_modules() if isinstance(m, ConvBNSpike)]
    for i in sma_units(cfg.sma_units, len(units)):
        path, unit = units[i]
        conv, bn = unit[0].module[0], unit[0].module[1]
        parent = model.get_submodule(path.rsplit(".", 1)[0]) if "." in path else model
        setattr(parent, path.rsplit(".", 1)[-1],
                SMAConvBNSpike(conv, bn, unit[1], cfg.timesteps, cfg.azo_t, cfg.azo_c))
    return model
