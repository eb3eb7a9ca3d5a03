"""Building blocks shared by the backbones.  Sequences are (T, B, C, H, W).

Stateless layers (conv, BN, pooling, linear) run on all timesteps at once by
folding T into the batch (`TimeDistributed`); neurons loop over T.  BatchNorm
therefore normalises over T*B samples (tdBN-style statistics, as in the
TET/MPBN code bases the paper builds on).
"""

from __future__ import annotations

import torch
from torch import nn

from spikefold.models.config import ModelConfig
from spikefold.models.neurons import make_neuron
from spikefold.models.time_distributed import TimeDistributed


class ConvBN(TimeDistributed):
    """Conv2d (no bias) + BatchNorm2d over a sequence."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1,
                 padding: int | None = None):
        pad = kernel // 2 if padding is None else padding
        super().__init__(nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=False), nn.BatchNorm2d(c_out)))


class ConvBNSpike(nn.Sequential):
    """Conv-BN-neuron, the unit every backbone repeats."""

    def __init__(self, cfg: ModelConfig, c_in: int, c_out: int, kernel: int = 3,
                 stride: int = 1):
        super().__init__(ConvBN(c_in, c_out, kernel, stride), make_neuron(cfg, c_out))


def avg_pool(k: int) -> TimeDistributed:
    return TimeDistributed(nn.AvgPool2d(k))


class BasicBlock(nn.Module):
    """conv3x3-BN-neuron-conv3x3-BN, plus shortcut, then neuron.

    shortcut="conv": conv1x1(stride)+BN when the shape changes (ResNet-18/34, ResNet-19);
    shortcut="avgpool": AvgPool(stride)+conv1x1+BN (res20m, as in MPBN).
    """

    def __init__(self, cfg: ModelConfig, c_in: int, c_out: int, stride: int = 1,
                 shortcut: str = "conv"):
        super().__init__()
        self.conv1 = ConvBNSpike(cfg, c_in, c_out, 3, stride)
        self.conv2 = ConvBN(c_out, c_out, 3, 1)
        if stride == 1 and c_in == c_out:
            self.shortcut = nn.Identity()
        elif shortcut == "conv":
            self.shortcut = ConvBN(c_in, c_out, 1, stride, padding=0)
        elif shortcut == "avgpool":
            pool = [avg_pool(stride)] if stride > 1 else []
            self.shortcut = nn.Sequential(*pool, ConvBN(c_in, c_out, 1, 1, padding=0))
        else:
            raise ValueError(f"unknown shortcut {shortcut!r}")
        self.neuron = make_neuron(cfg, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.conv2(self.conv1(x)) + self.shortcut(x))


class Classifier(nn.Module):
    """Global average pool (if spatial) + flatten + linear: (T, B, C, H, W) -> (T, B, classes);
    with `hidden` (features -> hidden linear, then `neuron`) in between, as tdBN's ResNet-19 head
    (FC 512 -> 256 -> classes)."""

    def __init__(self, features: int, classes: int, global_pool: bool = True, hidden: int = 0,
                 neuron: nn.Module | None = None):
        super().__init__()
        self.global_pool = global_pool
        self.hidden = nn.Linear(features, hidden) if hidden else None
        self.neuron = neuron if hidden else None
        self.fc = nn.Linear(hidden or features, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.mean(dim=(3, 4)) if self.global_pool else x.flatten(2)
        if self.hidden is not None:
            x = self.neuron(self.hidden(x))
        return self.fc(x)


def encode_input(x: torch.Tensor, timesteps: int, rank: int = 3) -> torch.Tensor:
    """(T, B, *sample) from a static batch (B, *sample), repeated T times (direct encoding), or a
    sequence batch (B, T, *sample) (event frames, spike trains); `rank` = len(sample shape)."""
    if x.dim() == rank + 1:
        return x.unsqueeze(0).expand(timesteps, *x.shape)
    if x.dim() == rank + 2:
        return x.transpose(0, 1)
    raise ValueError(f"expected (B, *sample) or (B, T, *sample) input with a sample of rank {rank}, "
                     f"got {tuple(x.shape)}")


class SpikingNet(nn.Module):
    """Input encoding + body + per-timestep logits.

    forward(x): x is a static image batch (B, C, H, W), repeated over T (direct
    encoding), or an event-frame batch (B, T, C, H, W).  Returns logits per
    timestep, (T, B, classes); the prediction uses their mean over T.
    """

    def __init__(self, cfg: ModelConfig, body: nn.Module, head: nn.Module):
        super().__init__()
        self.cfg = cfg
        self.body, self.head = body, head

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return encode_input(x, self.cfg.timesteps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.encode(x)))
