"""The training losses, on logits (T, B, K) and integer labels (B,)."""
from __future__ import annotations

import torch
from torch import nn

from spikefold.models.config import TrainConfig


def loss_fn(cfg: TrainConfig, logits_t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """logits_t: (T, B, K).  CE on the mean over T, or the TET loss."""
    if cfg.loss == "ce":
        return nn.functional.cross_entropy(logits_t.mean(0), y, label_smoothing=cfg.label_smoothing)
    if cfg.loss == "tet":
        ce = torch.stack([nn.functional.cross_entropy(o, y, label_smoothing=cfg.label_smoothing)
                          for o in logits_t]).mean()
        return (1 - cfg.tet_lambda) * ce + cfg.tet_lambda * ((logits_t - 1.0) ** 2).mean()
    if cfg.loss == "mse":
        mean = logits_t.mean(0)
        return nn.functional.mse_loss(mean, nn.functional.one_hot(y, mean.shape[1]).to(mean.dtype))
    raise ValueError(f"unknown loss {cfg.loss!r} (ce, tet or mse)")
