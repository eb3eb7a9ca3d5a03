"""Fold-aware fine-tuning: train the folded network's synaptic weights and biases briefly.

The folded graph is what runs on the chip; training it directly (surrogate
gradients through the same LIF step, leaks and thresholds fixed) wins back
accuracy the calibrated folds lost.  SGD with momentum and a cosine schedule,
the checkpoint's own loss (models.train.loss_fn).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm import tqdm

from spikefold.compile.executor import GraphNet
from spikefold.compile.graph import Graph
from spikefold.models.config import TrainConfig
from spikefold.models.loss import loss_fn


@dataclass
class FinetuneConfig:
    epochs: int = 0
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0


def finetune(graph: Graph, loader, cfg: FinetuneConfig, train_cfg: TrainConfig,
             quiet: bool = True, device: torch.device | str = "cpu") -> tuple[Graph, list]:
    """(graph with fine-tuned weights, per-epoch mean training loss), trained on `device`."""
    torch.manual_seed(cfg.seed)
    net = GraphNet(graph).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    steps = max(1, cfg.epochs * len(loader))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    history = []
    for epoch in tqdm(range(cfg.epochs), desc="fine-tune", disable=quiet, leave=False):
        net.train()
        total = n = 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(train_cfg, net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            n += len(y)
        history.append(total / max(n, 1))
    return net.to_graph().with_meta(finetune_epochs=cfg.epochs), history
