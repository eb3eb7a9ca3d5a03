"""fold_sma: an SMA unit -> dense branch synapses, branch LIFs and a static mix (calibrated).

SMA's branch i reads the block conv's real-valued output X = conv(x) through conv_i, with zero
padding of X.  conv_i o conv is one conv only in the interior of the map: at the border the
padding of X hides values conv would compute from x, so the composite is not translation
invariant and no conv synapse holds it.  It is one linear map of the spikes x, though, exact
everywhere: M_i = conv_i o conv as a dense (C H W, C_in H_in W_in) matrix.  So the unit becomes,
per branch i, with A_i (C,) SMA's attention averaged over calibration samples and timesteps:

    x -> Flatten -> Linear(scale_i M_i, scale_i conv_i(bias) + shift_i) -> LIF_i  (C H W,)
      -> Linear(diag(bn_scale A_i), bn_shift if i = 0 else 0) -> the block's LIF

Only A is approximate (its std over samples and steps and its deviation over t are logged):
with A pinned to a constant the folded graph spikes as the model does (tested).

The block's LIF and every layer after it become flat (C H W,) layers: their synapses read a
dense matrix's output, and NIR, like compile/'s graph, has Flatten but no reshape back.  So
downstream convs become their dense matrices, neuron parameters per neuron, and Flatten nodes
vanish.  Refused with one line: a dense layer over `max_weights` weights, and a layer that
would read flattened and unflattened inputs at once (a shortcut across the unit).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from spikefold.compile.graph import Graph
from spikefold.compile.nodes import SMA, Conv2d, Flatten, LIF, Linear, Output, per_channel

MAX_WEIGHTS = 1 << 24           # per dense layer: 128 MiB as float64


def apply_convs(x: np.ndarray, convs: list[tuple]) -> np.ndarray:
    """Bias-free convs applied in turn to x (N, C, H, W), float64: convs [(weight, stride, padding),
    ...], each zero-padding its own input."""
    y = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    for w, stride, padding in convs:
        y = F.conv2d(y, torch.from_numpy(np.asarray(w, dtype=np.float64)), None, stride, padding)
    return y.numpy()


def conv_matrix(convs: list[tuple], in_shape: tuple) -> np.ndarray:
    """The (F_out, F_in) matrix of `apply_convs(., convs)` on one (C, H, W) = in_shape input,
    flattened in C, H, W order."""
    f_in = int(np.prod(in_shape))
    return apply_convs(np.eye(f_in).reshape(f_in, *in_shape), convs).reshape(f_in, -1).T.copy()


def _check_size(what: str, f_out: int, f_in: int, max_weights: int, why: str = ""):
    """ValueError "{what} {f_out} x {f_in} synapses (n weights, over the limit){why}" past max_weights."""
    if f_out * f_in > max_weights:
        raise ValueError(f"{what} {f_out} x {f_in} synapses ({f_out * f_in:,} weights, over the limit of "
                         f"{max_weights:,}){why}")


def _per_neuron(values, shape: tuple) -> np.ndarray:
    return per_channel(values, shape).reshape(-1)


def _flat_lif(node: LIF) -> LIF:
    v_th = node.v_th if np.isscalar(node.v_th) else np.broadcast_to(node.v_th, node.shape).reshape(-1).copy()
    syn = None if node.syn_leak is None else _per_neuron(node.syn_leak, node.shape)
    f = int(np.prod(node.shape))
    return LIF(_per_neuron(node.leak, node.shape), _per_neuron(node.gain, node.shape), v_th, (f,),
               node.source, node.rule, syn)


def _unit(name: str, node: SMA, src: str, flat_input: bool, a: np.ndarray, max_weights: int):
    """The nodes and edges replacing SMA node `name` fed by `src`, and the mix nodes' names."""
    f_in, f = int(np.prod(node.in_shape)), int(np.prod(node.shape))
    _check_size(f"node {name} ({node.source}): SMA's exact fold needs dense", f, max(f_in, f), max_weights,
                ": the branch convs read the block conv's real-valued output, which only a dense matrix "
                "carries exactly")
    nodes, edges, mixes = {}, [], []
    if not flat_input:
        nodes[f"{name}_flatten"] = Flatten((f_in,), node.source)
        edges.append((src, f"{name}_flatten"))
        src = f"{name}_flatten"
    block = (node.weight, node.stride, node.padding)
    bias_map = np.broadcast_to(node.bias.reshape(-1, 1, 1), node.shape)[None]   # conv's bias, (1, C, H, W)
    for i, w in enumerate(node.branch_weights):
        branch = (w, (1, 1), (w.shape[-2] // 2, w.shape[-1] // 2))
        scale = _per_neuron(node.branch_scale[i], node.shape)
        weight = scale[:, None] * conv_matrix([block, branch], node.in_shape)
        bias = scale * apply_convs(bias_map, [branch]).reshape(-1) + _per_neuron(node.branch_shift[i], node.shape)
        syn, lif, mix = f"{name}_branch{i}", f"{name}_branch{i}_lif", f"{name}_mix{i}"
        path = f"{node.source}.sma.branches.{i}"
        nodes[syn] = Linear(weight, bias, (f,), f"{path}.0")
        nodes[lif] = LIF(_per_neuron(node.leak[i], node.shape), _per_neuron(node.gain[i], node.shape),
                         float(node.v_th[i]), (f,), f"{path}.1")
        gain = _per_neuron(node.bn_scale * a[i], node.shape)
        nodes[mix] = Linear(np.diag(gain), _per_neuron(node.bn_shift, node.shape) if i == 0 else np.zeros(f),
                            (f,), f"{node.source}.sma.attention")
        edges += [(src, syn), (syn, lif), (lif, mix)]
        mixes.append(mix)
    return nodes, edges, mixes


def _flatten_after(nodes: dict, edges: list, start: str, max_weights: int) -> tuple[dict, list]:
    """Make `start` (a neuron fed by dense synapses) and every layer downstream of it flat."""
    shapes = {n: node.shape for n, node in nodes.items()}
    order, flat = list(nodes), {start}
    nodes[start] = _flat_lif(nodes[start])
    for name in order[order.index(start) + 1:]:
        preds = [a for a, b in edges if b == name]
        if not any(p in flat for p in preds):
            continue
        node = nodes[name]
        if not all(p in flat for p in preds) and not isinstance(node, SMA):
            raise ValueError(f"node {name}: reads both the flattened layers after an SMA unit and "
                             f"others; fold_sma does not flatten across a shortcut")
        flat.add(name)
        if isinstance(node, Flatten):
            (pred,) = preds
            edges = [(pred if a == name else a, b) for a, b in edges if b != name]
            del nodes[name]
        elif isinstance(node, Conv2d):
            f_out, f_in = int(np.prod(node.shape)), int(np.prod(shapes[preds[0]]))
            _check_size(f"node {name}: a conv after an SMA unit becomes dense", f_out, f_in, max_weights)
            weight = conv_matrix([(node.weight, node.stride, node.padding)], shapes[preds[0]])
            nodes[name] = Linear(weight, _per_neuron(node.bias, node.shape), (f_out,), node.source)
        elif isinstance(node, LIF):
            nodes[name] = _flat_lif(node)
        elif not isinstance(node, (Linear, Output, SMA)):
            raise ValueError(f"node {name}: {type(node).__name__} after an SMA unit cannot be flattened")
    return nodes, edges


def fold_sma(graph: Graph, stats: dict, max_weights: int = MAX_WEIGHTS) -> Graph:
    notes = []
    for name in graph.of_type(SMA):
        node = graph.nodes[name]
        (src,), (lif,) = graph.preds(name), graph.succs(name)
        if not isinstance(graph.nodes[lif], LIF) or graph.preds(lif) != [name]:
            raise ValueError(f"node {name}: an SMA unit must feed its own LIF and nothing else")
        s = stats[node.source]
        a = s.mean_t.mean(0)                                                   # (branches, C)
        new, new_edges, mixes = _unit(name, node, src, len(graph.nodes[src].shape) == 1, a, max_weights)
        nodes = {}
        for n, old in graph.nodes.items():
            if n == name:
                nodes.update(new)
            else:
                nodes[n] = old
        edges = [e for e in graph.edges if name not in e] + new_edges + [(m, lif) for m in mixes]
        nodes, edges = _flatten_after(nodes, edges, lif, max_weights)
        graph = Graph.build(nodes, edges, dict(graph.meta))
        notes.append({"pass": "fold_sma", "node": name, "exact": False,
                      "mean_attention_per_branch": [float(v) for v in a.mean(1)],
                      "std_over_samples_and_steps": float(s.std.mean()),
                      "max_deviation_from_mean_over_t": float(np.abs(s.mean_t - a).max()),
                      "dense_weights": int(sum(nodes[n].weight.size for n in new if isinstance(nodes[n], Linear))),
                      "calibration_samples": s.samples})
    return graph.with_meta(folds=tuple(graph.meta.get("folds", ())) + tuple(notes))
