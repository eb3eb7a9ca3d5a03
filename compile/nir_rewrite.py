"""A NIR graph made flat before its nodes are read (compile/nir_read.py), every step exact.

Nodes are a dict name -> NIR node, edges a list of (source, target) names:

  * `inline_subgraphs`: a nested NIRGraph's nodes become `outer.inner`, its own Input and
    Output (pass-through) are replaced by the edges through them;
  * `fold_scales`: Scale (y = scale * x) goes into the rows and bias of the Affine/Linear
    layer it follows, or the columns of those it feeds;
  * `fold_delays`: Delay becomes a delay in whole steps of dt on the Affine/Linear layers
    beside it (a layer split in one part per delay where the Delay differs between neurons;
    a Delay after a layer holds its bias back too);
  * `topological`: an order in which every node's inputs come first, and the recurrent edges
    (into a neuron, carrying the previous step's output) that are left out of it.
"""
from __future__ import annotations

from dataclasses import replace

import nir
import numpy as np

from spikefold.compile.nir_format import NIRFormatError, text
from spikefold.common.validate import MAX_WORK_MB

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


def fold_delays(nodes: dict, edges: list, dt: float) -> tuple[dict, list, dict, dict]:
    """(nodes, edges, {linear layer: delay in steps}, {linear layer: its bias's delay}) without Delay
    nodes: each Delay becomes a delay of the Affine or Linear layer it follows (or of those it
    feeds), in whole steps of dt, what one axonal delay per synapse layer expresses; a Delay after
    a layer delays its bias too (0 on the first steps), one before it only its input.  A Delay that differs between neurons (NIR's
    per-neuron delays) splits the layer into one layer per distinct delay, `name.delay<d>`, each
    the rows (after the layer) or columns (before it) of that delay and zeros elsewhere, summed
    where they meet: exact (the bias stays with the first part)."""
    delays, bias_delays = {}, {}
    for name in [n for n, node in nodes.items() if isinstance(node, nir.Delay)]:
        d = np.asarray(nodes[name].delay, np.float64).reshape(-1) / dt
        steps = np.rint(d)
        if steps.size == 0 or np.any(np.abs(d - steps) > 1e-6) or steps.min() < 0:
            raise NIRFormatError(f"node {name}: Delay must be whole numbers >= 0 of steps (dt = {dt:g} s)")
        after, layers = _adjacent_linear(nodes, edges, name)
        for t in layers:
            if np.all(steps == steps[0]):
                delays[t] = delays.get(t, 0) + int(steps[0])
                if after:
                    bias_delays[t] = bias_delays.get(t, 0) + int(steps[0])
                continue
            parts, shape = len(np.unique(steps)), np.shape(nodes[t].weight)
            if 8 * parts * int(np.prod(shape)) > MAX_WORK_MB * (1 << 20):    # float64 copies of W
                raise NIRFormatError(
                    f"node {name}: {parts} different per-neuron delays split layer {t} ({' x '.join(map(str, shape))}) "
                    f"into {parts} layers of {8 * parts * int(np.prod(shape)) / (1 << 20):,.0f} MiB of weights, over "
                    f"the {MAX_WORK_MB} MiB work limit (use fewer distinct delays)")
            edges = _split_by_delay(nodes, edges, (delays, bias_delays), t, steps.astype(int), rows=after,
                                    name=name)
        edges = _bypass(edges, name)
        del nodes[name]
    return nodes, edges, delays, bias_delays


def _split_by_delay(nodes: dict, edges: list, both: tuple, t: str, steps: np.ndarray, rows: bool,
                    name: str) -> list:
    """Layer t as one layer per distinct value of `steps` (one per row, or per column), each with
    that delay; the edges through t go through every part."""
    w = np.asarray(nodes[t].weight, np.float64)
    if w.shape[0 if rows else 1] != steps.size:
        raise NIRFormatError(f"node {name}: {steps.size} delays for a layer of {w.shape[0 if rows else 1]} "
                             f"{'outputs' if rows else 'inputs'}")
    bias = getattr(nodes[t], "bias", None)
    bias = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, np.float64)
    delays, bias_delays = both
    into, out = [a for a, b in edges if b == t], [b for a, b in edges if a == t]
    edges = [(a, b) for a, b in edges if t not in (a, b)]
    for i, d in enumerate(sorted(set(steps.tolist()))):
        mask = steps == d
        part = f"{t}.delay{d}"
        nodes[part] = nir.Affine(weight=w * (mask[:, None] if rows else mask[None, :]),
                                 bias=bias * mask if rows else (bias if i == 0 else np.zeros_like(bias)))
        delays[part] = delays.get(t, 0) + int(d)
        bias_delays[part] = bias_delays.get(t, 0) + (int(d) if rows else 0)
        edges += [(a, part) for a in into] + [(part, b) for b in out]
    del nodes[t]
    delays.pop(t, None)
    bias_delays.pop(t, None)
    return edges


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
