"""lower_staa: a fully folded STAA-LIF -> a LIF whose drive sits in its input layer's bias (exact).

Once GC, Pos and SA are constants, V = M * H + N * I + drive.  The drive is a
constant input current drive / N added to the bias of the neuron's first
synaptic input layer (any one will do: the inputs are summed).
"""
from __future__ import annotations

import numpy as np

from spikefold.compile.graph import Graph, update
from spikefold.compile.nodes import LIF, SYNAPTIC, StaaLIF


def lower_staa(graph: Graph) -> Graph:
    changed = {}
    for name in graph.of_type(StaaLIF):
        node = graph.nodes[name]
        live = [part for part, on in (("GC", node.gc), ("Pos", node.pos is not None),
                                      ("SA", node.sa)) if on]
        if live:
            raise ValueError(f"node {name}: {', '.join(live)} not folded yet")
        changed[name] = LIF(node.leak, node.gain, node.v_th, node.shape, node.source)
        if np.any(node.drive != 0):
            preds = [p for p in graph.preds(name) if isinstance(graph.nodes[p], SYNAPTIC)]
            if not preds:
                raise ValueError(f"node {name}: no synaptic input layer to carry its drive "
                                 f"(run materialize_shortcuts first)")
            if np.any((node.gain == 0) & (node.drive != 0)):
                raise ValueError(f"node {name}: a channel with zero input gain has a drive")
            layer = changed.get(preds[0], graph.nodes[preds[0]])
            safe = np.where(node.gain == 0, 1.0, node.gain)
            changed[preds[0]] = update(layer, bias=layer.bias + node.drive / safe)
    return graph.evolve(changed)
