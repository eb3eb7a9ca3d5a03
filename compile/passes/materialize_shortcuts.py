"""materialize_shortcuts: every edge into a neuron that does not come from a synaptic
layer (an identity shortcut carrying spikes, or pooled spikes) gets an identity
1x1 conv (or identity linear) in between (exact).

On a chip a neuron only receives input through synapses, and the NIR form
spikefold writes scales each neuron's synaptic weights (compile/nir_write.py), so
identity shortcuts must be synaptic layers too.
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, unique_name
from spikefold.compile.nodes import NEURONS, SMA, SYNAPTIC, Conv2d, Linear


def identity_layer(shape: tuple, source: str):
    c = shape[0]
    if len(shape) == 1:
        return Linear(np.eye(c), np.zeros(c), shape, source)
    return Conv2d(np.eye(c).reshape(c, c, 1, 1), np.zeros(c), (1, 1), (0, 0), shape, source)


def materialize_shortcuts(graph: Graph) -> Graph:
    nodes, edges = {}, list(graph.edges)
    for name, node in graph.nodes.items():
        if isinstance(node, NEURONS):
            for pred in graph.preds(name):
                if isinstance(graph.nodes[pred], (*SYNAPTIC, SMA)):   # SMA: its mix synapses, after fold_sma
                    continue
                new = unique_name({**graph.nodes, **nodes}, f"{name}_identity")
                nodes[new] = identity_layer(graph.nodes[pred].shape, f"{node.source} (identity shortcut)")
                edges = [e for e in edges if e != (pred, name)] + [(pred, new), (new, name)]
        nodes[name] = node
    return Graph.build(nodes, edges, dict(graph.meta))
