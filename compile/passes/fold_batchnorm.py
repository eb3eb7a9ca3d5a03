"""fold_batchnorm: BatchNorm after a conv or linear layer -> that layer's weight and bias (exact).

    BN(W x + b) = s * (W x + b - mean) + beta,   s = gamma / sqrt(var + eps)
                = (s W) x + (s (b - mean) + beta)           per output channel
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, update
from spikefold.compile.nodes import SYNAPTIC, BatchNorm


def scale_shift(bn: BatchNorm) -> tuple[np.ndarray, np.ndarray]:
    """BN(x) = scale * x + shift per channel: (gamma / sqrt(var + eps), beta - scale * mean)."""
    scale = bn.gamma / np.sqrt(bn.var + bn.eps)
    return scale, bn.beta - scale * bn.mean


def fold_batchnorm(graph: Graph) -> Graph:
    for name in graph.of_type(BatchNorm):
        bn = graph.nodes[name]
        preds = graph.preds(name)
        layer = graph.nodes[preds[0]] if len(preds) == 1 else None
        if not isinstance(layer, SYNAPTIC) or len(graph.succs(preds[0])) != 1:
            raise ValueError(f"node {name}: BatchNorm must follow exactly one conv/linear "
                             f"layer that feeds nothing else")
        scale, shift = scale_shift(bn)
        weight = layer.weight * scale.reshape(-1, *([1] * (layer.weight.ndim - 1)))
        bias = scale * layer.bias + shift
        graph = graph.splice(name, {preds[0]: update(layer, weight=weight, bias=bias)})
    return graph
