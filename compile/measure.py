"""What folding costs: accuracy of two networks on the same data, and per-layer spike agreement.

`record_spikes(model, x)` collects the spikes (T, B, ...) of every neuron module
of a spikefold network by module path; `GraphNet(..., record=True)` does the
same for a graph by node name, and node.source links the two.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from spikefold.compile.agreement import spike_agreement
from spikefold.compile.executor import GraphNet
from spikefold.models.fsta import FSTALIF
from spikefold.models.lif import LIF as TorchLIF
from spikefold.models.staa_lif import STAALIF


def record_spikes(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """(logits (T, B, K), {module path: spikes (T, B, ...)}) of one forward pass."""
    spikes, hooks = {}, []
    for path, mod in model.named_modules():
        if isinstance(mod, (TorchLIF, STAALIF, FSTALIF)):
            hooks.append(mod.register_forward_hook(
                lambda m, i, o, path=path: spikes.__setitem__(path, o.detach())))
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for h in hooks:
            h.remove()
    return logits, spikes


def compare(model: torch.nn.Module, graphs: dict, batches, quiet: bool = True,
            near: float = 1e-5, device: torch.device | str = "cpu") -> dict:
    """Accuracy (%) of `model` and of each graph in `graphs` ({label: Graph}) over `batches` of
    (x, y), plus, per graph and per LIF node, the fraction of (t, sample, neuron) spikes equal to
    the model's and the counts of spikefold.compile.agreement (positions, differ, ties: differing
    with the graph's membrane potential within `near` of the threshold, downstream of a tie, far)."""
    home = next(model.parameters()).device
    model.to(device)
    nets = {k: GraphNet(g).eval().to(device) for k, g in graphs.items()}
    correct = {"model": 0, **{k: 0 for k in graphs}}
    agree = {k: {} for k in graphs}
    total = 0
    for x, y in tqdm(batches, desc="measure", disable=quiet, leave=False):
        x, y = x.to(device), y.to(device)
        logits, ref = record_spikes(model, x)
        correct["model"] += int((logits.mean(0).argmax(1) == y).sum())
        total += len(y)
        for k, net in nets.items():
            with torch.no_grad():
                out = net(x, record=True)
            correct[k] += int((out.mean(0).argmax(1) == y).sum())
            layers = [(name, ref[net.graph.nodes[name].source], s, v, net.graph.nodes[name].v_th)
                      for name, (s, v) in net.record.items() if net.graph.nodes[name].source in ref]
            for name, a in spike_agreement(layers, near).layers.items():
                d = agree[k].setdefault(name, {"source": net.graph.nodes[name].source, "positions": 0,
                                               "differ": 0, "ties": 0, "downstream": 0, "far": 0})
                for key in ("positions", "differ", "ties", "downstream", "far"):
                    d[key] += getattr(a, key)
    model.to(home)
    acc = {k: 100.0 * c / max(total, 1) for k, c in correct.items()}
    for k in agree:
        for d in agree[k].values():
            d["agreement"] = 1.0 - d["differ"] / max(d["positions"], 1)
    return {"samples": total, "accuracy": acc, "spike_agreement": agree}


def mean_agreement(per_layer: dict) -> float:
    vals = [d["agreement"] for d in per_layer.values()]
    return float(np.mean(vals)) if vals else float("nan")
