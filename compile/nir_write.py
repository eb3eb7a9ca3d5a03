"""Our graph -> NIR graph: one small writer per node type, WRITERS maps the type to it.

A writer takes (node, in_shape, form) and returns the NIR node; in_shape is the output shape
of the node's first input.  Before a synapse layer (Conv2d, Linear) is written its weight is
multiplied by 1 / (k0 k1) after a k0 x k1 pool the form writes as SumPool2d, and, where it
feeds a LIF of leak M, its rows and bias by form.input_scale(M) (1 / (1 - M) for gain in the
weights, compile/nir_format.py).  A LIF becomes

    tau = form.leak_to_tau(M),  r = form.r(M),  v_leak = v_reset = 0,  v_threshold = v_th

as arrays of neuron_param_shape(form, shape): (C, H, W), or (C, 1, 1) per channel.
"""
from __future__ import annotations

import json
from dataclasses import replace

import nir
import numpy as np

from spikefold.compile.graph import Graph
from spikefold.compile.nir_format import DISCRETISATION, SPIKE_RULE, by_type
from spikefold.compile.nir_peers import PEERS, PeerForm, PeerRefused, neuron_param_shape
from spikefold.compile.nodes import AvgPool2d, Conv2d, Flatten, Input, LIF, Linear, Output, SYNAPTIC, per_channel


def to_nir(graph: Graph, meta: dict | None = None, form: PeerForm = PEERS["portable"]) -> nir.NIRGraph:
    """The NIR graph of a fully lowered graph (only Input, Conv2d, Linear, Flatten, AvgPool2d,
    LIF with gain 1, Output), spelt the way `form`'s reader reads it right (compile/nir_peers.py;
    PeerRefused where it cannot).  `meta` is stored as JSON under metadata["spikefold"]."""
    scale = _input_scales(graph, form)
    form.check(graph)
    pooled = _sum_pooled(graph, form)
    nodes = {}
    for name, node in graph.nodes.items():
        preds = graph.preds(name)
        in_shape = graph.nodes[preds[0]].shape if preds else None
        write = by_type(WRITERS, node)
        if write is None:
            raise ValueError(f"node {name}: {type(node).__name__} has no NIR form (fold it first)")
        if isinstance(node, SYNAPTIC):
            node = _scaled(node, pooled.get(name, 1.0), scale.get(name))
        nodes[name] = write(node, in_shape, form)
    info = {"dt": form.dt, "integration": form.integration, "form": form.name,
            "discretisation": DISCRETISATION[form.integration], "spike_rule": SPIKE_RULE,
            "timesteps": int(graph.meta["timesteps"]), "folds": list(graph.meta.get("folds", ())),
            "sources": {n: node.source for n, node in graph.nodes.items() if getattr(node, "source", "")},
            **(meta or {})}
    metadata = {"spikefold": json.dumps(info), "dt": form.dt, "timesteps": info["timesteps"]}
    # per-channel (C, 1, 1) neuron arrays broadcast over (C, H, W) inputs; NIR's type check wants equal shapes
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=metadata, type_check=not form.channel_params)


def _input_scales(graph: Graph, form: PeerForm) -> dict:
    """synapse layer -> factor on its weights and bias, form.input_scale of the LIF it feeds;
    ValueError for a LIF spikefold does not write (delayed input, synaptic current, rule v > v_th,
    gain not folded, M >= 1) or one fed by a non-synaptic node."""
    scale = {}
    for name in graph.of_type(LIF):
        lif = graph.nodes[name]
        if any(getattr(graph.nodes[p], "delay", 0) for p in graph.preds(name)):
            raise ValueError(f"node {name}: spikefold writes NIR without delays")
        if lif.syn_leak is not None or lif.rule != "ge":
            raise ValueError(f"node {name}: spikefold writes NIR for its own LIF only (no synaptic "
                             f"current, fires at v >= v_threshold)")
        if not np.allclose(lif.gain, 1.0, rtol=0, atol=0):
            raise ValueError(f"node {name}: input gain must be folded first (fold_neuron_gain)")
        if np.any(lif.leak >= 1.0):
            raise ValueError(f"node {name}: leak M >= 1 has no NIR LIF time constant")
        for pred in graph.preds(name):
            if not isinstance(graph.nodes[pred], SYNAPTIC):
                raise ValueError(f"node {name}: input {pred} is not synaptic (materialize_shortcuts)")
            s = form.input_scale(lif.leak)
            if s is not None:
                scale[pred] = s
    return scale


def _sum_pooled(graph: Graph, form: PeerForm) -> dict:
    """synapse layer -> 1 / window of the pool before it (through Flatten), when the form writes
    pools as SumPool2d; else empty."""
    pooled = {}
    if form.pool == "sum":
        for name in graph.of_type(AvgPool2d):
            for succ in graph.succs(name):
                while isinstance(graph.nodes[succ], Flatten):
                    (succ,) = graph.succs(succ)
                pooled[succ] = 1.0 / float(np.prod(graph.nodes[name].kernel))
    return pooled


def _scaled(node: Conv2d | Linear, factor: float, s: np.ndarray | None) -> Conv2d | Linear:
    """The layer with weight * factor and, where s is given, each output row and bias * s."""
    w, b = node.weight * factor, node.bias
    if s is not None:
        w, b = w * s.reshape(-1, *[1] * (w.ndim - 1)), b * s
    return replace(node, weight=w, bias=b)


def _conv2d(node: Conv2d, in_shape: tuple, form: PeerForm) -> nir.Conv2d:
    return nir.Conv2d(input_shape=tuple(in_shape[1:]), weight=node.weight, stride=node.stride,
                      padding=node.padding, dilation=(1, 1), groups=1, bias=node.bias)


def _affine(node: Linear, in_shape: tuple, form: PeerForm) -> nir.Affine:
    return nir.Affine(weight=node.weight, bias=node.bias)


def _input(node: Input, in_shape: tuple | None, form: PeerForm) -> nir.Input:
    return nir.Input(input_type={"input": np.array(node.shape)})


def _flatten(node: Flatten, in_shape: tuple, form: PeerForm) -> nir.Flatten:
    """Negative dims: every importer keeps the batch dimension."""
    return nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=-len(in_shape), end_dim=-1)


def _pool(node: AvgPool2d, in_shape: tuple, form: PeerForm) -> nir.AvgPool2d | nir.SumPool2d:
    pool = nir.SumPool2d if form.pool == "sum" else nir.AvgPool2d
    return pool(kernel_size=np.array(node.kernel), stride=np.array(node.kernel), padding=np.array([0, 0]))


def _lif(node: LIF, in_shape: tuple, form: PeerForm) -> nir.LIF:
    shape = neuron_param_shape(form, node.shape)
    leak = per_channel(node.leak, shape)
    return nir.LIF(tau=form.leak_to_tau(leak), r=form.r(leak), v_leak=np.zeros(shape),
                   v_threshold=_threshold_array(node.v_th, node.shape, shape), v_reset=np.zeros(shape))


def _output(node: Output, in_shape: tuple, form: PeerForm) -> nir.Output:
    return nir.Output(output_type={"output": np.array(node.shape)})


# our node type -> writer; by_type takes the first entry the node is an instance of
WRITERS = {Conv2d: _conv2d, Linear: _affine, Input: _input, Flatten: _flatten, AvgPool2d: _pool, LIF: _lif,
           Output: _output}


def _threshold_array(v_th, shape: tuple, param_shape: tuple) -> np.ndarray:
    """v_th (one float or a (C, H, W) array) as a float64 array of the written parameter shape."""
    full = np.broadcast_to(np.asarray(v_th, np.float64), shape)
    if param_shape == tuple(shape):
        return full.copy()
    flat = full.reshape(shape[0], -1)
    if not np.all(flat == flat[:, :1]):
        raise PeerRefused("per-channel neuron arrays cannot hold a threshold that varies within a channel")
    return flat[:, :1].reshape(param_shape).copy()
