"""fold_sma: SMA's branch attention -> the consumers' weights, so the branches sum by fan-in.

SMA outputs O = sum_i A_i[c] S_i (models/sma.py).  With the calibration means a_i[c] (over
samples and timesteps) in place of A_i, a consumer W sees W O = sum_i (W diag(a_i)) S_i: one
copy of W per branch, its input channels scaled by a_i, each fed by branch i's spikes, all
summed at W's target by NIR fan-in.  Consumers must be convs or flatten+linear layers (run
after materialize_shortcuts and fold_avgpool).  What the constants miss is logged: how far the
per-timestep means stray from their average.
"""
from __future__ import annotations

import numpy as np

from compile.graph import Graph, update
from compile.nodes import Conv2d, Flatten, Linear, SmaSum


def _scaled(node, a: np.ndarray, first: bool):
    """A copy of a conv or linear node with input channel c scaled by a[c] (bias kept once)."""
    if isinstance(node, Conv2d):
        w = node.weight * a[None, :, None, None]
    else:
        w = (node.weight.reshape(node.weight.shape[0], a.shape[0], -1) * a[None, :, None]).reshape(
            node.weight.shape)
    return update(node, weight=w, bias=node.bias if first else np.zeros_like(node.bias))


def fold_sma(graph: Graph, stats: dict) -> Graph:
    notes = []
    for name in graph.of_type(SmaSum):
        node = graph.nodes[name]
        s = stats[node.source]
        a = s.mean_t.mean(0)                                              # (n, C)
        nodes, edges = dict(graph.nodes), [e for e in graph.edges if e[1] != name]
        order = list(graph.nodes)
        for succ in graph.succs(name):
            chain = [succ]
            if isinstance(graph.nodes[succ], Flatten):
                chain.append(graph.succs(succ)[0])
            layer = graph.nodes[chain[-1]]
            if not isinstance(layer, (Conv2d, Linear)):
                raise ValueError(f"node {name}: SMA output feeds {type(layer).__name__}; "
                                 f"only convs and flatten+linear layers can absorb it")
            outs = graph.succs(chain[-1])
            edges = [e for e in edges if e[0] not in chain and e[1] not in chain]
            new = {}
            for i, b in enumerate(node.branches):
                prev = b
                for part in chain:
                    copy_name = f"{part}_b{i}"
                    part_node = graph.nodes[part]
                    new[copy_name] = _scaled(part_node, a[i], i == 0) if part == chain[-1] else part_node
                    edges.append((prev, copy_name))
                    prev = copy_name
                edges += [(prev, o) for o in outs]
            at = order.index(chain[0])
            order = order[:at] + list(new) + [n for n in order[at:] if n not in chain]
            nodes.update(new)
            for part in chain:
                nodes.pop(part)
        order.remove(name)
        nodes.pop(name)
        notes.append({"pass": "fold_sma", "node": name, "exact": False,
                      "mean_branch_weight": float(a.mean()),
                      "max_deviation_over_t": float(np.abs(s.mean_t - a).max()),
                      "calibration_samples": s.samples})
        graph = Graph.build({n: nodes[n] for n in order}, edges, dict(graph.meta))
    return graph.with_meta(folds=tuple(graph.meta.get("folds", ())) + tuple(notes))
