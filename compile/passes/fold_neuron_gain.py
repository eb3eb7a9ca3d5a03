"""fold_neuron_gain: a LIF's per-channel input gain N -> its input layers' weights and biases (exact
up to rounding).

    v = M * v' + N * (W x + b) = M * v' + (N W) x + N b

After this pass every LIF has gain 1, the form of a chip's neuron (Loihi adds
its synaptic input to v unscaled) and of the NIR file spikefold writes.  With
adaptive M/N (eq. 6) this is where the learned N ends up; M stays the leak.
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, update
from spikefold.compile.nodes import LIF, SYNAPTIC


def fold_neuron_gain(graph: Graph) -> Graph:
    changed = {}
    for name in graph.of_type(LIF):
        node = graph.nodes[name]
        if np.all(node.gain == 1.0):
            continue
        for pred in graph.preds(name):
            layer = graph.nodes[pred]
            if not isinstance(layer, SYNAPTIC) or graph.succs(pred) != [name]:
                raise ValueError(f"node {name}: input {pred} is not a synaptic layer feeding only "
                                 f"this neuron (run materialize_shortcuts first)")
            g = node.gain
            changed[pred] = update(layer, weight=layer.weight * g.reshape(-1, *([1] * (layer.weight.ndim - 1))),
                                   bias=layer.bias * g)
        changed[name] = update(node, gain=np.ones_like(node.gain))
    return graph.evolve(changed)
