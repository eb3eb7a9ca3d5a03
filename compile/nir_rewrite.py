"""A NIR graph made flat before its nodes are read (compile/nir_read.py), every step exact.

Nodes are a dict name -> NIR node, edges a list of (source, target) names:

  * `inline_subgraphs`: a nested NIRGraph's nodes become `outer.inner`, its own Input and
    Output (pass-through) are replaced by the edges through them;
  * `fold_scales`: Scale (y = scale * x) goes into the rows and bias of the Affine/Linear
    layer it follows, or the columns of those it feeds;
  * `fold_delays`: Delay becomes a delay in whole steps of dt on the Affine/Linear layers
    beside it;
  * `topological`: an order in which every node's inputs come first, and the recurrent edges
    (into a neuron, carrying the previous step's output) that are left out of it.
"""
from __future__ import annotations

from dataclasses import replace

import nir
import numpy as np

from spikefold.compile.nir_format import NIRFormatError, text

NEURONS = (nir.LIF, nir.IF, nir.CubaLIF)
LINEAR = (nir.Affine, nir.Linear)


def inline_subgraphs(nodes: dict, edges: list) -> tuple[dict, list]:
    """Nested NIRGraph nodes inlined as `outer.inner` names; each subgraph's own Input and Output,
    pass-through nodes, replaced by the edges through them."""
    while any(isinstance(n, nir.NIRGraph) for n in nodes.values()):
        name = next(k for k, n in nodes.items() if isinstance(n, nir.NIRGraph))
        sub = nodes.pop(name)
        inner = {f"{name}.{k}": v for k, v in sub.nodes.items()}
        ports = {kind: [k for k, v in inner.items() if isinstance(v, kind)] for kind in (nir.Input, nir.Output)}
        if len(ports[nir.Input]) != 1 or len(ports[nir.Output]) != 1:
            raise NIRFormatError(f"node {name}: a nested graph needs exactly one Input and one Output")
        (i,), (o,) = ports[nir.Input], ports[nir.Output]
        edges = [(o if a == name else a, i if b == name else b) for a, b in edges]
        edges += [(f"{name}.{text(a)}", f"{name}.{text(b)}") for a, b in sub.edges]
        nodes.update(inner)
        for port in (i, o):
            edges = _bypass(edges, port)
            del nodes[port]
    return nodes, edges


def _bypass(edges: list, name: str) -> list:
    """The edges without node `name`: each of its inputs wired to each of its outputs."""
    into = [a for a, b in edges if b == name]
    out = [b for a, b in edges if a == name]
    return [(a, b) for a, b in edges if name not in (a, b)] + [(a, b) for a in into for b in out]


def _adjacent_linear(nodes: dict, edges: list, name: str) -> tuple[bool, list]:
    """(after, layers) for an elementwise node that folds into Affine/Linear weights: the one layer
    it follows and alone takes that layer's output (after=True), else the layers it feeds, each
    fed by it alone; anything else cannot fold."""
    preds = [a for a, b in edges if b == name]
    succs = [b for a, b in edges if a == name]
    if len(preds) == 1 and isinstance(nodes[preds[0]], LINEAR) and [b for a, b in edges if a == preds[0]] == [name]:
        return True, preds
    if succs and all(isinstance(nodes[b], LINEAR) and [a for a, c in edges if c == b] == [name] for b in succs):
        return False, succs
    raise NIRFormatError(f"node {name}: a {type(nodes[name]).__name__} must follow or feed Affine or Linear layers")


def fold_scales(nodes: dict, edges: list) -> tuple[dict, list]:
    """Scale nodes (y = scale * x, elementwise) folded into the Affine or Linear layer they follow
    (its rows and bias) or into the ones they feed (their columns): exact."""
    for name in [n for n, node in nodes.items() if isinstance(node, nir.Scale)]:
        scale = np.asarray(nodes[name].scale, np.float64).reshape(-1)
        after, layers = _adjacent_linear(nodes, edges, name)
        for t in layers:
            w = np.asarray(nodes[t].weight, np.float64)
            if after:
                bias = getattr(nodes[t], "bias", None)
                nodes[t] = nir.Affine(weight=w * scale[:, None],
                                      bias=(np.zeros(len(scale)) if bias is None else np.asarray(bias)) * scale)
            else:
                nodes[t] = replace(nodes[t], weight=w * scale[None, :])
        edges = _bypass(edges, name)
        del nodes[name]
    return nodes, edges


def fold_delays(nodes: dict, edges: list, dt: float) -> tuple[dict, list, dict]:
    """(nodes, edges, {linear layer: delay in steps}) without Delay nodes: each Delay becomes a
    delay of the Affine or Linear layer it follows (or of those it feeds), in whole steps of dt,
    the same for every neuron (what one axonal delay per synapse layer expresses)."""
    delays = {}
    for name in [n for n, node in nodes.items() if isinstance(node, nir.Delay)]:
        d = np.asarray(nodes[name].delay, np.float64) / dt
        steps = np.rint(d)
        if steps.size == 0 or np.any(np.abs(d - steps) > 1e-6) or np.any(steps != steps.flat[0]) \
                or steps.flat[0] < 0:
            raise NIRFormatError(f"node {name}: Delay must be the same whole number of steps (dt = {dt:g} s) "
                                 f"for every neuron")
        for t in _adjacent_linear(nodes, edges, name)[1]:
            delays[t] = delays.get(t, 0) + int(steps.flat[0])
        edges = _bypass(edges, name)
        del nodes[name]
    return nodes, edges, delays


def topological(nodes: dict, edges) -> tuple[list[str], set]:
    """(order, recurrent edges): a cycle must pass through a neuron, and its edge into that neuron
    (from a node the neuron itself reaches) carries the previous step's output; every other edge
    runs forward in `order`."""
    succs = {n: [b for a, b in edges if a == n] for n in nodes}

    def reaches(src, dst):
        seen, todo = set(), [src]
        while todo:
            n = todo.pop()
            if n == dst:
                return True
            if n not in seen:
                seen.add(n)
                todo += succs[n]
        return False

    recurrent = {(a, b) for a, b in edges if isinstance(nodes[b], NEURONS) and reaches(b, a)}
    preds = {n: [a for a, b in edges if b == n and (a, b) not in recurrent] for n in nodes}
    order, done = [], set()
    while len(order) < len(nodes):
        ready = [n for n in nodes if n not in done and all(p in done for p in preds[n])]
        if not ready:
            raise NIRFormatError("the graph has a cycle that does not pass through a neuron")
        order += ready
        done.update(ready)
    return order, recurrent
