"""Our graph <-> NIR, with the discretisation written into the file so the round trip is exact.

NIR's LIF is continuous: tau dv/dt = (v_leak - v) + r I.  spikefold fixes one
discretisation, forward Euler with dt = DT seconds, and records it in the
graph's metadata:

    v[t] = (1 - dt/tau) v[t-1]' + (dt/tau) (v_leak + r I[t])

A spikefold LIF  v[t] = M v[t-1]' + I[t]  (gain already folded into its input
weights, `fold_neuron_gain`) is written as tau = dt / (1 - M), r = 1, v_leak = 0,
v_reset = 0, v_threshold = v_th, and every synaptic layer feeding it has its
weights and bias divided by (1 - M), so that (dt/tau) r I = I.  r = 1 is the
form both snnTorch (which rescales the threshold by r dt / tau) and Norse
(which ignores r) read correctly.  Reading inverts it: M = 1 - dt/tau and an
input gain N = (dt/tau) r, with the weights as stored.

Spikes: spikefold's models fire at v >= v_threshold (STAA-SNN eq. 2); NIR's
nominal rule is v > v_threshold.  They differ only where v equals the
threshold exactly; the metadata says which rule the file was made with.
"""
from __future__ import annotations

import json
from dataclasses import replace

import h5py
import nir
import numpy as np

from spikefold.compile.graph import Graph
from spikefold.compile.nir_peers import DT, PEERS, PeerForm, PeerRefused, neuron_param_shape
from spikefold.compile.nodes import (LI, AvgPool2d, Conv2d, Flatten, Input, LIF, Linear, Output, SYNAPTIC,
                           per_channel)
from spikefold.common import validate
from spikefold.common.cli import InputError

SPIKE_RULE = "v >= v_threshold"
DISCRETISATION = {
    "euler": ("forward Euler: v[t] = (1 - dt/tau) v[t-1] + (dt/tau) (v_leak + r I[t]); "
              f"spike when {SPIKE_RULE}; then v = v_reset"),
    "zoh": ("exact for an input held over the step: v[t] = exp(-dt/tau) v[t-1] + (1 - exp(-dt/tau)) "
            f"(v_leak + r I[t]); spike when {SPIKE_RULE}; then v = v_reset")}


NIR_OWN_KEYS = ("dt", "integration", "form", "discretisation", "spike_rule", "timesteps", "folds", "sources")


class NIRFormatError(InputError):
    """str(e): one line naming what in the NIR file cannot be read."""


KNOWN_TYPES = {"Input", "Output", "Conv2d", "Affine", "Linear", "Flatten", "AvgPool2d", "SumPool2d", "LIF",
               "IF", "CubaLIF", "Delay", "NIRGraph", "Scale", "LI", "Conv1d", "Threshold"}
FOREIGN_RULE = "v > v_threshold"
DT_HELP = ("seconds per step for a graph without spikefold metadata (NIR's neurons are continuous; "
           "spikefold steps them by forward Euler: LIF v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r I[t]; IF "
           "v[t] = v[t-1] + dt r I[t]; CubaLIF i[t] = (1 - dt/tau_syn) i[t-1] + (dt/tau_syn) w_in I[t], "
           "v[t] = (1 - dt/tau_mem) v[t-1] + (dt/tau_mem) r i[t]; spike when v > v_threshold, then "
           "v = v_reset). Pass the dt the "
           "exporter assumed: snnTorch's export_to_nir writes tau = dt / (1 - beta) with dt = 1e-4; "
           "Norse's to_nir takes dt (default 1e-3); Sinabs and Rockpool count tau in time steps (dt = 1)")


def to_nir(graph: Graph, meta: dict | None = None, form: PeerForm = PEERS["portable"]) -> nir.NIRGraph:
    """The NIR graph of a fully lowered graph (only Input, Conv2d, Linear, Flatten, AvgPool2d,
    LIF with gain 1, Output), spelt the way `form`'s reader reads it right (compile/nir_peers.py;
    PeerRefused where it cannot).  `meta` is stored as JSON under metadata["spikefold"]."""
    scale = {}                                  # synaptic layer -> factor on its weights and bias
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
    form.check(graph)
    pooled = {}                                 # synaptic layer -> 1 / window of the sum pool before it
    if form.pool == "sum":
        for name in graph.of_type(AvgPool2d):
            for succ in graph.succs(name):
                while isinstance(graph.nodes[succ], Flatten):
                    (succ,) = graph.succs(succ)
                pooled[succ] = 1.0 / float(np.prod(graph.nodes[name].kernel))
    nodes = {}
    for name, node in graph.nodes.items():
        preds = graph.preds(name)
        in_shape = graph.nodes[preds[0]].shape if preds else None
        s = scale.get(name)
        if isinstance(node, (Conv2d, Linear)):
            w, b = node.weight * pooled.get(name, 1.0), node.bias
            if s is not None:
                w, b = w * s.reshape(-1, *[1] * (w.ndim - 1)), b * s
            if isinstance(node, Conv2d):
                nodes[name] = nir.Conv2d(input_shape=tuple(in_shape[1:]), weight=w, stride=node.stride,
                                         padding=node.padding, dilation=(1, 1), groups=1, bias=b)
            else:
                nodes[name] = nir.Affine(weight=w, bias=b)
        elif isinstance(node, Input):
            nodes[name] = nir.Input(input_type={"input": np.array(node.shape)})
        elif isinstance(node, Flatten):   # negative dims: every importer keeps the batch dimension
            nodes[name] = nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=-len(in_shape),
                                      end_dim=-1)
        elif isinstance(node, AvgPool2d):
            pool = nir.SumPool2d if form.pool == "sum" else nir.AvgPool2d
            nodes[name] = pool(kernel_size=np.array(node.kernel), stride=np.array(node.kernel),
                               padding=np.array([0, 0]))
        elif isinstance(node, LIF):
            shape = neuron_param_shape(form, node.shape)
            leak = per_channel(node.leak, shape)
            nodes[name] = nir.LIF(tau=form.leak_to_tau(leak), r=form.r(leak), v_leak=np.zeros(shape),
                                  v_threshold=_threshold_array(node.v_th, node.shape, shape),
                                  v_reset=np.zeros(shape))
        elif isinstance(node, Output):
            nodes[name] = nir.Output(output_type={"output": np.array(node.shape)})
        else:
            raise ValueError(f"node {name}: {type(node).__name__} has no NIR form (fold it first)")
    info = {"dt": form.dt, "integration": form.integration, "form": form.name,
            "discretisation": DISCRETISATION[form.integration], "spike_rule": SPIKE_RULE,
            "timesteps": int(graph.meta["timesteps"]), "folds": list(graph.meta.get("folds", ())),
            "sources": {n: node.source for n, node in graph.nodes.items() if getattr(node, "source", "")},
            **(meta or {})}
    metadata = {"spikefold": json.dumps(info), "dt": form.dt, "timesteps": info["timesteps"]}
    # per-channel (C, 1, 1) neuron arrays broadcast over (C, H, W) inputs; NIR's type check wants equal shapes
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=metadata, type_check=not form.channel_params)


def _threshold_array(v_th, shape: tuple, param_shape: tuple) -> np.ndarray:
    """v_th (one float or a (C, H, W) array) as a float64 array of the written parameter shape."""
    full = np.broadcast_to(np.asarray(v_th, np.float64), shape)
    if param_shape == tuple(shape):
        return full.copy()
    flat = full.reshape(shape[0], -1)
    if not np.all(flat == flat[:, :1]):
        raise PeerRefused(f"per-channel neuron arrays cannot hold a threshold that varies within a channel")
    return flat[:, :1].reshape(param_shape).copy()


NEURONS = (nir.LIF, nir.IF, nir.CubaLIF)
LINEAR = (nir.Affine, nir.Linear)


def _flatten(nodes: dict, edges: list) -> tuple[dict, list]:
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
        edges += [(f"{name}.{_text(a)}", f"{name}.{_text(b)}") for a, b in sub.edges]
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


def _fold_scales(nodes: dict, edges: list) -> tuple[dict, list]:
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


def _fold_delays(nodes: dict, edges: list, dt: float) -> tuple[dict, list, dict]:
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


def _topological(nodes: dict, edges) -> tuple[list[str], set]:
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


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def spikefold_metadata(g: nir.NIRGraph) -> dict:
    raw = (g.metadata or {}).get("spikefold")
    if raw is None:
        raise NIRFormatError("no spikefold metadata (dt, timesteps): not written by spikefold")
    return json.loads(_text(raw))


def from_nir(g: nir.NIRGraph, dt: float | None = None, timesteps: int | None = None) -> Graph:
    """Our graph of a NIR graph: one written by `to_nir` (same discrete dynamics, dt and
    timesteps from its metadata), or by anyone else, stepped with the user's dt (forward Euler,
    DT_HELP) and fired at v > v_threshold, NIR's nominal rule."""
    foreign = (g.metadata or {}).get("spikefold") is None
    if foreign:
        if dt is None:
            raise NIRFormatError("no spikefold metadata: the graph was written by another framework; "
                                 "pass --dt (seconds per step; see --help)")
        info = {"dt": float(dt), "foreign": True, "spike_rule": FOREIGN_RULE, "discretisation": DT_HELP,
                "timesteps": int(timesteps or 1)}
    else:
        info = spikefold_metadata(g)
        if timesteps:
            info = {**info, "timesteps": int(timesteps)}
    dt = float(info["dt"])
    rule = "gt" if foreign else "ge"
    edges = [(_text(a), _text(b)) for a, b in g.edges]
    nodes, edges = _fold_scales(*_flatten(dict(g.nodes), edges))
    nodes, edges, delays = _fold_delays(nodes, edges, dt)
    order, recurrent = _topological(nodes, edges)
    out, shapes, sum_pools = {}, {}, {}
    for name in order:
        node = nodes[name]
        _check_values(name, node)
        preds = [a for a, b in edges if b == name and (a, b) not in recurrent]
        in_shape = shapes[preds[0]] if preds else None
        _check_fan_in(name, node, in_shape)
        if isinstance(node, nir.Input):
            shape = tuple(int(v) for v in node.input_type["input"])
            succ = [nodes[b] for a, b in edges if a == name]
            if foreign and len(shape) in (2, 4) and shape[0] == 1 and not any(isinstance(n, nir.Conv1d) for n in succ):
                shape = shape[1:]       # a batch dimension of 1 the exporter kept (Norse writes (1, F))
            if len(shape) == 2 and any(isinstance(n, nir.Conv1d) for n in succ):
                info = {**info, "input_shape": list(shape)}   # a 1-D signal (C, L), run as (C, 1, L)
                shape = (shape[0], 1, shape[1])
            new = Input(shape)
        elif isinstance(node, nir.Conv2d):
            stride, pad = _pair(node.stride), _pair(node.padding)
            k = node.weight.shape[-2:]
            shape = (node.weight.shape[0], *((in_shape[i + 1] + 2 * pad[i] - k[i]) // stride[i] + 1
                                              for i in range(2)))
            if node.groups != 1 or _pair(node.dilation) != (1, 1):
                raise NIRFormatError(f"node {name}: grouped or dilated Conv2d is not supported")
            new = Conv2d(np.asarray(node.weight, np.float64), _bias(node, node.weight.shape[0]),
                         stride, pad, shape)
        elif isinstance(node, nir.Conv1d):
            stride, pad = int(np.asarray(node.stride).reshape(-1)[0]), node.padding
            if isinstance(pad, str) or node.groups != 1 or int(np.asarray(node.dilation).reshape(-1)[0]) != 1:
                raise NIRFormatError(f"node {name}: Conv1d with string padding, groups or dilation is not supported")
            pad, k = int(np.asarray(pad).reshape(-1)[0]), node.weight.shape[-1]
            if len(in_shape) != 3 or in_shape[1] != 1:
                raise NIRFormatError(f"node {name}: Conv1d input of shape {in_shape}, expected (C, L)")
            shape = (node.weight.shape[0], 1, (in_shape[2] + 2 * pad - k) // stride + 1)
            new = Conv2d(np.asarray(node.weight, np.float64)[:, :, None, :], _bias(node, node.weight.shape[0]),
                         (1, stride), (0, pad), shape)
        elif isinstance(node, (nir.Affine, nir.Linear)):
            shape = (node.weight.shape[0],)
            new = Linear(np.asarray(node.weight, np.float64), _bias(node, shape[0]), shape,
                         delay=delays.get(name, 0))
        elif isinstance(node, nir.Flatten):
            shape = (int(np.prod(in_shape)),)
            new = Flatten(shape)
        elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            k = _pair(node.kernel_size)
            if _pair(node.stride) != k or _pair(node.padding) != (0, 0):
                raise NIRFormatError(f"node {name}: {type(node).__name__} needs stride = kernel and no padding")
            shape = (in_shape[0], in_shape[1] // k[0], in_shape[2] // k[1])
            new = AvgPool2d(k, shape)
            if isinstance(node, nir.SumPool2d):       # a sum is the mean times k0 k1: into the next weights
                sum_pools[name] = k[0] * k[1]
        elif isinstance(node, nir.LIF):
            shape = _neuron_shape(node.tau, in_shape)
            coef = dt / np.asarray(node.tau, np.float64)
            if not (np.allclose(node.v_leak, 0) and np.allclose(node.v_reset, 0)):
                raise NIRFormatError(f"node {name}: LIF with v_leak or v_reset != 0 is not supported")
            v_th = _threshold(node.v_threshold, shape)
            decay = np.exp(-coef) if info.get("integration") == "zoh" else 1.0 - coef
            new = LIF(_channelwise(name, decay, shape), _channelwise(name, (1.0 - decay) * node.r, shape), v_th,
                      shape, rule=rule)
        elif isinstance(node, nir.CubaLIF):
            shape = _neuron_shape(node.tau_mem, in_shape)
            if not (np.allclose(node.v_leak, 0) and (node.v_reset is None or np.allclose(node.v_reset, 0))):
                raise NIRFormatError(f"node {name}: CubaLIF with v_leak or v_reset != 0 is not supported")
            syn, mem = dt / np.asarray(node.tau_syn, np.float64), dt / np.asarray(node.tau_mem, np.float64)
            if np.any(syn > 1) or np.any(mem > 1):
                raise NIRFormatError(f"node {name}: CubaLIF tau_syn and tau_mem must be >= dt ({dt:g} s) "
                                     f"for forward Euler to decay")
            v_th = _threshold(node.v_threshold, shape)
            gain = syn * np.asarray(node.w_in, np.float64) * mem * np.asarray(node.r, np.float64) * np.ones(shape)
            new = LIF(_channelwise(name, (1.0 - mem) * np.ones(shape)), _channelwise(name, gain), v_th, shape,
                      rule=rule, syn_leak=_channelwise(name, (1.0 - syn) * np.ones(shape)))
        elif isinstance(node, nir.LI):
            shape = _neuron_shape(node.tau, in_shape)
            if not np.allclose(node.v_leak, 0):
                raise NIRFormatError(f"node {name}: LI with v_leak != 0 is not supported")
            coef = dt / np.asarray(node.tau, np.float64)
            new = LI(_channelwise(name, 1.0 - coef, shape), _channelwise(name, coef * node.r, shape), shape)
        elif isinstance(node, nir.Threshold):    # s = H(I - theta), no memory: a LIF that forgets v
            shape = _neuron_shape(node.threshold, in_shape)
            new = LIF(np.zeros(shape[0]), np.ones(shape[0]), _threshold(node.threshold, shape), shape, rule=rule)
        elif isinstance(node, nir.IF):
            shape = _neuron_shape(node.r, in_shape)
            if not np.allclose(node.v_reset, 0):
                raise NIRFormatError(f"node {name}: IF with v_reset != 0 is not supported")
            v_th = _threshold(node.v_threshold, shape)
            ones = np.ones(shape)
            new = LIF(_channelwise(name, ones), _channelwise(name, dt * np.asarray(node.r) * ones), v_th, shape,
                      rule=rule)
        elif isinstance(node, nir.Output):
            shape = tuple(int(v) for v in node.output_type["output"])
            if foreign and in_shape is not None:
                shape = tuple(in_shape)     # exporters disagree on batch dims here; the graph decides
            new = Output(shape)
        else:
            raise NIRFormatError(f"node {name}: NIR {type(node).__name__} is not supported")
        if hasattr(new, "source"):
            new = replace(new, source=info.get("sources", {}).get(name, ""))
        out[name], shapes[name] = new, shape
    for a, b in recurrent:
        if delays.get(a):
            raise NIRFormatError(f"node {a}: a delay on a recurrent edge is not supported")
    for name, factor in sum_pools.items():
        for succ in [b for a, b in edges if a == name]:
            while isinstance(out[succ], Flatten):
                (succ,) = [b for a, b in edges if a == succ]
            if not isinstance(out[succ], (Conv2d, Linear)):
                raise NIRFormatError(f"node {name}: SumPool2d must feed a Conv2d or (Flatten and) Affine")
            out[succ] = replace(out[succ], weight=out[succ].weight * factor)
    meta = {"timesteps": int(info["timesteps"]), "folds": tuple(info.get("folds", ())),
            "nir": info}
    return Graph.build(out, edges, meta)


def _check_values(name: str, node) -> None:
    """Finite arrays everywhere; a LIF needs tau > 0 (a leak) and v_threshold > 0 (a spike
    rule the chip's unsigned threshold can hold, and without which every step fires)."""
    for field, value in vars(node).items():
        if isinstance(value, np.ndarray):
            validate.finite_array(f"node {name}", field, value)
    if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF, nir.LI)):
        fields = {nir.LIF: ("tau", "v_threshold"), nir.IF: ("v_threshold",), nir.LI: ("tau",),
                  nir.CubaLIF: ("tau_syn", "tau_mem", "v_threshold")}[type(node)]
        for field in fields:
            a = np.asarray(getattr(node, field), np.float64)
            if np.any(a <= 0):
                raise NIRFormatError(f"node {name}: {type(node).__name__} {field} must be > 0 "
                                     f"({int((a <= 0).sum())} value(s) <= 0, min {a.min():.4g})")


def _check_fan_in(name: str, node, in_shape) -> None:
    """A synapse layer's weights must take its input (NIR's type check is off for per-channel
    neuron arrays, so this is checked here for every file)."""
    if in_shape is None or not isinstance(node, (*LINEAR, nir.Conv2d, nir.Conv1d)):
        return
    want = int(np.prod(in_shape)) if isinstance(node, LINEAR) else int(in_shape[0])
    if node.weight.shape[1] != want:
        raise NIRFormatError(f"node {name}: weight of shape {tuple(node.weight.shape)} does not take an input "
                             f"of shape {tuple(in_shape)}")


def _pair(v) -> tuple:
    a = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(a[0]), int(a[-1]))


def _bias(node, n: int) -> np.ndarray:
    b = getattr(node, "bias", None)
    return np.zeros(n) if b is None else np.asarray(b, np.float64).reshape(n)


def _threshold(a, shape: tuple) -> float | np.ndarray:
    """A threshold as the LIF node holds it: one float when every neuron shares it, else an array
    of the neuron shape."""
    th = np.asarray(a, np.float64)
    if np.all(th == th.flat[0]):
        return float(th.flat[0])
    return th.copy() if th.shape == tuple(shape) else np.broadcast_to(th, shape).copy()


def _neuron_shape(param, in_shape) -> tuple:
    """A neuron layer's shape: its input's (exporters such as snnTorch write one scalar per
    layer), else its parameters' own."""
    return tuple(in_shape) if in_shape is not None else tuple(np.shape(param))


def _channelwise(name: str, a: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """(C, H, W) or (C,) values that must be constant over space -> (C,); a single value (an
    exporter's scalar for the whole layer) is spread over shape's channels."""
    a = np.asarray(a, np.float64)
    if a.size == 1 and shape is not None:
        return np.full(shape[0], float(a.reshape(-1)[0]))
    flat = a.reshape(a.shape[0], -1)
    if not np.all(flat == flat[:, :1]):
        raise NIRFormatError(f"node {name}: LIF parameters vary within a channel")
    return flat[:, 0].copy()


def write_nir(graph: Graph, path, meta: dict | None = None, form: PeerForm = PEERS["portable"]) -> None:
    save_nir(to_nir(graph, meta, form), path, form)


def save_nir(g: nir.NIRGraph, path, form: PeerForm = PEERS["portable"]) -> None:
    """nir.write, then, for a reader on NIR <= 1.0.4 (form.v_reset False), the LIF v_reset fields
    removed: that NIR rejects the field, and reads its absence as reset to 0."""
    nir.write(path, g)
    if not form.v_reset:
        with h5py.File(path, "r+") as f:
            for name, node in g.nodes.items():
                if isinstance(node, nir.LIF):
                    del f["node"]["nodes"][name]["v_reset"]


def read_nir(path, max_mb: float = validate.MAX_MB, dt: float | None = None,
             timesteps: int | None = None) -> Graph:
    """Our graph of a NIR file, validated: declared sizes (at most `max_mb` MiB of arrays) and
    node types before any array is read, then values.  NIRFormatError names the file."""
    path = validate.input_file(path, "NIR file")
    try:
        validate.nir_declared(path, KNOWN_TYPES, max_mb)
    except InputError as e:
        raise NIRFormatError(str(e)) from None
    try:
        g = nir.read(path, type_check=False)
        form = spikefold_metadata(g).get("form") if "spikefold" in (g.metadata or {}) else None
        if not (form in PEERS and PEERS[form].channel_params):  # (C, 1, 1) neuron arrays: no NIR type match
            g.infer_types()
            g.check_types()
    except Exception as e:  # h5py/nir errors on foreign or damaged files
        raise NIRFormatError(f"{path}: not a NIR file ({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})") from None
    try:
        return from_nir(g, dt, timesteps)
    except (ValueError, KeyError, IndexError) as e:   # ours, and Graph.build's shape checks
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NIRFormatError(f"{path}: {text}") from None
