"""fold_avgpool: average pooling followed by a conv or a flatten+linear -> one layer (exact).

A k x k average pool (stride k) then a conv (kernel K, stride s, padding p) is
the conv with kernel K*k, stride s*k, padding p*k whose weights are the
original ones repeated over k x k blocks and divided by k*k: every tap of the
small kernel becomes the mean over the k x k pixels it pooled.  The same holds
for a linear layer after flatten (each pooled feature's weight is spread over
its k*k source pixels).  After this pass every synaptic layer that used to see
pooled spikes sees spikes, which is what a neuromorphic core can consume.
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, update
from spikefold.compile.nodes import SMA, AvgPool2d, Conv2d, Flatten, Linear


def expand(weight: np.ndarray, k: tuple) -> np.ndarray:
    """(..., h, w) weights -> (..., h*k0, w*k1), each entry spread over a k0 x k1 block."""
    return np.repeat(np.repeat(weight, k[0], axis=-2), k[1], axis=-1) / (k[0] * k[1])


def fold_avgpool(graph: Graph) -> Graph:
    for name in graph.of_type(AvgPool2d):
        pool = graph.nodes[name]
        (src,) = graph.preds(name)
        in_shape = graph.nodes[src].shape
        changed = {}
        for succ in graph.succs(name):
            node = graph.nodes[succ]
            if isinstance(node, (Conv2d, SMA)):        # SMA: its block conv reads the pool
                changed[succ] = update(
                    node, weight=expand(node.weight, pool.kernel),
                    stride=tuple(s * k for s, k in zip(node.stride, pool.kernel)),
                    padding=tuple(p * k for p, k in zip(node.padding, pool.kernel)),
                    **({"in_shape": in_shape} if isinstance(node, SMA) else {}))
            elif isinstance(node, Flatten) and len(graph.succs(succ)) == 1 and \
                    isinstance(graph.nodes[graph.succs(succ)[0]], Linear):
                fc_name = graph.succs(succ)[0]
                fc = graph.nodes[fc_name]
                w = fc.weight.reshape(fc.weight.shape[0], *pool.shape)
                changed[succ] = update(node, shape=(int(np.prod(in_shape)),))
                changed[fc_name] = update(fc, weight=expand(w, pool.kernel).reshape(w.shape[0], -1))
            else:
                raise ValueError(f"node {name}: average pooling feeds {type(node).__name__} "
                                 f"node {succ}; only a conv or flatten+linear can absorb it")
        graph = graph.splice(name, changed)
    return graph
