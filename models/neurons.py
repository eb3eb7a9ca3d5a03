"""make_neuron: the neuron module a backbone puts after each conv/linear + BN."""

from __future__ import annotations

from torch import nn

from spikefold.models.config import ModelConfig
from spikefold.models.fsta import FSTALIF
from spikefold.models.lif import LIF
from spikefold.models.staa_lif import STAALIF

NEURONS = ("lif", "staa", "fsta", "sma")


def make_neuron(cfg: ModelConfig, channels: int) -> nn.Module:
    """A neuron for `channels` feature channels, of the kind cfg.neuron names."""
    if cfg.neuron in ("lif", "sma"):      # sma: SMA sits between conv and BN (models/sma.py, place_sma)
        return LIF(cfg.tau, cfg.v_th, cfg.surrogate_width, cfg.surrogate, cfg.detach_reset)
    if cfg.neuron == "staa":
        return STAALIF(channels, cfg.timesteps, cfg.tau, cfg.v_th, cfg.surrogate_width,
                       gc=cfg.gc, pe=cfg.pe, sa=cfg.sa, adaptive=cfg.adaptive,
                       gc_ratio=cfg.gc_ratio, gc_pool=cfg.gc_pool,
                       sa_reduction=cfg.sa_reduction, sa_alpha=cfg.sa_alpha, sa_scale=cfg.sa_scale,
                       tsrd_beta=cfg.tsrd_beta, attention=cfg.staa_attention)
    if cfg.neuron == "fsta":
        return FSTALIF(cfg.timesteps, cfg.fsta_decay, cfg.fsta_v_th, cfg.surrogate_width)
    raise ValueError(f"unknown neuron {cfg.neuron!r}; choose from {', '.join(NEURONS)}")
