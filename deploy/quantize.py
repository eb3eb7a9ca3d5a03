"""quantize: a lowered graph (compile/) -> a Loihi fixed-point `Program`.

Per neuron layer the float membrane v maps to integers as v_int = v * 64 * c (c, the
layer's scale, in threshold mantissa units per unit of v, so vth = round(c * v_th)).
A synapse into it carries w_int = round(w * c / 2**weight_exp), since Loihi adds
(sum of w_int) << weight_exp << 6 to u.  c is the largest value for which every
incoming synapse's weights fit Lava's 8-bit range (Dense: 255 for one-signed weights,
254 for mixed ones, which Lava's Dense truncates to even values; Conv: 255 either way,
every integer kept, as Lava's Conv neither clips nor truncates); Dense synapses may use a
positive weight_exp to give the threshold more resolution (up to VTH_TARGET), Conv
ignores weight_exp.  Biases become bias_mant << bias_exp, leaks dv = round(4096 (1-M)),
and du = 4095 clears the current every step (the models have no synaptic current).
The host layer's currents are scaled so that vth = VTH_TARGET.  Every value that
does not fit is clipped and counted in `program.report`, never silently.

Timing: a layer's frame (its `start`: its step 0, when its bias turns on) is one step after its
latest input's; a NIR Delay is an axonal delay inside that frame (its data, and a held-back
bias, arrive `delay` steps into it), not extra pipeline depth.  Helper layers (relay=True):
a pulse neuron that fires once to set a reset potential's start (`initial_pulse`) and a bias
neuron firing on every step to put a bias where NIR puts it, into a synaptic current or after a
Delay (`bias_neuron`).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from spikefold.compile.graph import Graph
from spikefold.compile.passes import fold_avgpool, fold_neuron_gain, materialize_shortcuts
from spikefold.compile.nodes import LI, SYNAPTIC, Conv2d, Flatten, Input, LIF, Linear, Output, per_channel
from spikefold.chip.program import HostLayer, NeuronLayer, Program, SynapseLayer
from spikefold.chip.weights import lava_weights, sign_mode, weight_bound
from spikefold.common.errors import InputError
from spikefold.chip.formats import (MAX_DELAY, BIAS_EXP_MAX, BIAS_MANT_MAX, BIAS_MANT_MIN, DECAY_UNITY, DU_MAX,
                                DV_MAX, SPARSE_MAX_DENSITY, VTH_MAX)

from spikefold.deploy.added_nodes import INPUT_SPIKES, spike_readout
from spikefold.deploy.helper_neurons import bias_neuron, check_pulse_target, initial_pulse
VTH_TARGET = 1 << 12      # threshold mantissa for host-fed layers and the cap for Dense-fed ones
CONV_WEIGHT_MAX = 255     # Conv weights: 8-bit magnitude and a sign, odd values kept


def _bias(b: np.ndarray, fixed_exp: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(mantissa, exponent, how many clipped) with mant << exp ~= b, per element: the smallest
    exponent whose 13-bit mantissa holds b (or `fixed_exp`)."""
    b = np.asarray(b, dtype=np.float64)
    need = np.ceil(np.log2(np.maximum(np.abs(b) / BIAS_MANT_MAX, 1.0)))
    exp = np.clip(need, 0, BIAS_EXP_MAX).astype(np.int64)
    if fixed_exp is not None:
        exp = np.full(b.shape, fixed_exp, np.int64)
    mant = np.rint(b / (1 << exp)).astype(np.int64)
    clipped = int(((mant < BIAS_MANT_MIN) | (mant > BIAS_MANT_MAX)).sum())
    return np.clip(mant, BIAS_MANT_MIN, BIAS_MANT_MAX), exp, clipped


def _delay(graph: Graph, name: str) -> int:
    delay = int(getattr(graph.nodes[name], "delay", 0))
    if delay > MAX_DELAY:
        raise ValueError(f"node {name}: a delay of {delay:,} steps; the chip's synaptic delays reach "
                         f"{MAX_DELAY} steps (a 6-bit field; lava-dl's Delay(max_delay=62))")
    return delay


def _source(graph: Graph, name: str) -> str:
    """The neuron (or input) feeding a synaptic layer, through any Flatten."""
    (pred,) = graph.preds(name)
    while isinstance(graph.nodes[pred], Flatten):
        (pred,) = graph.preds(pred)
    return pred


def _weight_ratio(w: np.ndarray, conv: bool = False) -> float:
    """The largest scale c at which round(w * c) fits the 8-bit magnitude Lava gives the layer."""
    return (CONV_WEIGHT_MAX if conv else weight_bound(w)) / max(np.abs(w).max(), 1e-30)


def _quantize_weights(w: np.ndarray, c: float, exp: int, conv: bool = False) -> tuple[np.ndarray, dict]:
    """Integer weights round(w c / 2**exp) as the layer's Lava process keeps them: Dense clips to its
    sign mode's range and truncates mixed-sign weights to even values (chip/weights.py), so they
    are rounded to even values here; Conv keeps every integer (lava/proc/conv/models.py
    PyConvModelFixed: int32 weights, precision 8 declared, neither clipped nor truncated), held
    to its 8-bit magnitude by the scale."""
    q = np.rint(w * c / (1 << exp)).astype(np.int64)
    if conv:
        final = np.clip(q, -CONV_WEIGHT_MAX, CONV_WEIGHT_MAX)
    else:
        if sign_mode(q) == "mixed":
            q = 2 * np.rint(w * c / (1 << exp) / 2).astype(np.int64)  # Lava keeps only even values
        final = lava_weights(q)
    err = np.abs(final * (1 << exp) / c - w).max() / max(np.abs(w).max(), 1e-30)
    return final, {"weights_clipped": int((final != q).sum()), "max_rel_weight_error": float(err),
                   "weight_exp": exp}


def quantize(graph: Graph, netx: bool = False) -> Program:
    """The fixed-point program of a lowered graph (from compile.pipeline.lower or read_nir).

    netx=True restricts it to what lava-dl netx files express: biases as mantissas with
    bias_exp = 6, no Dense weight_exp, and the host layer's bias added to the host currents
    (netx input layers take one scalar bias)."""
    # NIR graphs carry gain dt/tau (the chip has none) and may pool between layers (folded into weights)
    # and may feed a neuron without a synapse (spikes straight into a LIF): an identity synapse, as lower does
    graph = fold_neuron_gain(fold_avgpool(materialize_shortcuts(spike_readout(graph))))
    lifs = graph.of_type(LIF)
    syn = {n: (_source(graph, n), graph.succs(n)[0]) for n in graph.of_type(*SYNAPTIC)}
    host_name, readouts, integrators = _check_layout(graph, syn)

    neurons, synapses, report = {}, {}, {"layers": {}}
    start = {}
    for name in lifs:
        node = graph.nodes[name]
        ins, rec, arrival = _arrivals(graph, syn, name, host_name, start)
        host_fed = name == syn[host_name][1]
        if host_fed:     # the host's currents take any scale; recurrent weights reach it by weight_exp
            c = VTH_TARGET / float(np.max(node.v_th))
            qin = {n: _quantize_input(graph, n, c, max_exp=7) for n in rec}
        else:
            c, qin = _scale(graph, ins, float(np.max(node.v_th)), dense_exp=not netx)
        routed = _routed_biases(graph, name, ins, host_name, netx)
        neurons[name], layer_report = _neuron_layer(graph, name, [n for n in ins if n not in routed], c,
                                                    start[name], host_fed, netx)
        report["layers"][name] = {**layer_report, "synapses": {k: info for k, (_, info) in qin.items()}}
        if node.v0 is not None and not host_fed:
            report["layers"][name]["initial_potential"] = initial_pulse(graph, name, c, start[name], neurons,
                                                                         synapses, netx)
        for n in routed:
            if n != host_name:
                bias_neuron(graph, n, name, c, start[name], neurons, synapses)
        _add_synapses(graph, syn, name, qin, arrival, start, neurons, synapses, netx)
    c_out, report["readout"] = _readout(graph, syn, readouts, synapses, start)
    host = _host_layer(graph, syn, host_name, neurons, netx)
    report["clips"] = sum(l["bias_clipped"] + l["vth_clipped"] + l["dv_clipped"] +
                          sum(s["weights_clipped"] for s in l["synapses"].values())
                          for l in report["layers"].values()) + report["readout"]["weights_clipped"]
    late = {n: s.delay for n, s in synapses.items() if s.delay > MAX_DELAY}   # a NIR delay plus an axon's wait
    if late:
        n, d = next(iter(late.items()))
        raise ValueError(f"node {n}: its synapses wait {d} steps (a delay and the wait for a later branch), over "
                         f"Loihi's {MAX_DELAY} (a 6-bit field)")
    depth = {start[syn[ro][0]] + 1 + synapses[ro].delay - _delay(graph, ro) for ro in readouts}
    if len(depth) != 1:
        raise ValueError("the readout layers' inputs arrive on different steps")
    li = graph.nodes[next(iter(integrators))] if integrators else None
    return Program(host, neurons, synapses, tuple(readouts), c_out,
                   sum(graph.nodes[ro].bias for ro in readouts), int(graph.meta["timesteps"]), depth.pop(),
                   graph.nodes[_source(graph, host_name)].shape, report,
                   None if li is None else np.asarray(li.leak, np.float64),
                   None if li is None else np.asarray(li.gain, np.float64),
                   None if li is None or li.bias is None else np.asarray(li.bias, np.float64))


def _check_layout(graph: Graph, syn: dict) -> tuple[str, list, set]:
    """(the host-fed synapse layer, the readout synapse layers, the LI nodes they feed), or ValueError."""
    host_names = [n for n, (src, _) in syn.items() if isinstance(graph.nodes[src], Input)]
    if len(host_names) != 1 or not isinstance(graph.nodes[syn[host_names[0]][1]], LIF):
        raise ValueError("the input must feed exactly one synaptic layer, and that layer a neuron")
    host_name = host_names[0]
    if _delay(graph, host_name) and graph.nodes[host_name].source == INPUT_SPIKES:
        raise ValueError(f"node {host_name}: a delay on the input copy")
    for n, (src, dst) in syn.items():
        if n != host_name and not isinstance(graph.nodes[src], LIF):
            raise ValueError(f"node {n}: synaptic input from {src} is neither a neuron nor the input")
    readouts = [n for n, (_, dst) in syn.items() if isinstance(graph.nodes[dst], (Output, LI))]
    integrators = {syn[n][1] for n in readouts if isinstance(graph.nodes[syn[n][1]], LI)}
    if integrators and (len(integrators) > 1 or len(integrators) != len({syn[n][1] for n in readouts})):
        raise ValueError("the readout mixes leaky integrators (LI) with other outputs")
    if not readouts:
        raise ValueError("no synaptic layer feeds the output")
    return host_name, readouts, integrators


def _arrivals(graph: Graph, syn: dict, name: str, host_name: str, start: dict) -> tuple[list, list, dict]:
    """(synapses into neurons `name`, the recurrent ones, {synapse: step its input arrives}); sets start[name]."""
    ins = [n for n, (_, dst) in syn.items() if dst == name]
    rec = [n for n in ins if syn[n][0] == name]        # recurrent: the layer's own spikes, one step on
    if host_name in ins and len(ins) - len(rec) > 1:
        raise ValueError(f"node {name}: host-fed neurons cannot have other feed-forward inputs")
    # a layer's frame (its step 0, when its bias starts) is one step after its latest input's; a
    # NIR Delay then delays that input's data within the frame (its first steps see none)
    arrival = {n: 0 if n == host_name else start[syn[n][0]] + 1 for n in ins if n not in rec}
    start[name] = max(arrival.values())
    arrival.update({n: start[name] for n in rec})
    return ins, rec, arrival


def _neuron_layer(graph: Graph, name: str, ins: list, c: float, start: int, host_fed: bool,
                  netx: bool) -> tuple[NeuronLayer, dict]:
    """Neurons `name` at scale c (fed by synapse layers `ins`, first step `start`) and their report."""
    node = graph.nodes[name]
    bias_f = 0.0 if host_fed and netx else sum(graph.nodes[n].bias for n in ins) * c * 64
    if node.syn_leak is None:
        du = np.full(node.shape, DU_MAX, np.int64)
    else:   # Loihi's current decays by (4095 - du) / 4096; the bias enters v, so it carries the
            # current's steady-state gain 1 / (1 - syn_leak) (exact after the current settles)
        if netx:
            raise ValueError(f"node {name}: a synaptic current (CubaLIF) has no netx form here")
        du = per_channel(np.clip(np.rint(4095 - DECAY_UNITY * node.syn_leak), 0, DU_MAX),
                         node.shape).astype(np.int64)
        bias_f = bias_f / (1.0 - node.syn_leak)
    if node.bias is not None:   # NIR's resting and reset potentials: a constant into v, Loihi's own bias
        bias_f = per_channel(np.broadcast_to(bias_f, (node.shape[0],)), node.shape) \
            + per_channel(node.bias, node.shape) * c * 64
    mant, exp, bias_clipped = _bias(per_channel(bias_f, node.shape), 6 if netx else None)
    vth = np.rint(c * np.broadcast_to(node.v_th, node.shape)).astype(np.int64)
    dv_raw = np.rint(DECAY_UNITY * (1.0 - np.asarray(node.leak, np.float64)))
    dv = np.clip(dv_raw, 0, DV_MAX).astype(np.int64)   # 12-bit unsigned: M outside [1/4096, 1]
    layer = NeuronLayer(
        node.shape, du, per_channel(dv, node.shape).astype(np.int64),
        np.clip(vth, 0, VTH_MAX), mant, exp, start, c,
        source=node.source)
    return layer, {"scale": c, "vth": int(vth.max()),
                   "vth_clipped": int(((vth < 0) | (vth > VTH_MAX)).sum()),
                   "bias_clipped": bias_clipped, "start": start,
                   "dv_clipped": int((dv != dv_raw).sum()),
                   "dv": sorted(set(int(d) for d in dv))[:8]}


def _add_synapses(graph: Graph, syn: dict, name: str, qin: dict, arrival: dict, start: dict,
                  neurons: dict, synapses: dict, netx: bool) -> None:
    """Add the quantised synapse layers `qin` into neurons `name`, each delayed to reach it on start[name]."""
    for n, (q, info) in qin.items():
        src, early = syn[n][0], start[name] - arrival[n]
        delay = _delay(graph, n)
        if isinstance(graph.nodes[n], Linear) and not netx:
            delay, early = delay + early, 0      # an early dense input waits in its axons
        for i in range(early):                   # an early conv input waits in relay layers
            src = _add_relay(neurons, synapses, src, start[syn[n][0]] + i + 1, f"{n}_relay{i + 1}")
        synapses[n] = replace(_synapse(graph, n, src, name, q, info["weight_exp"]), delay=delay)


def _readout(graph: Graph, syn: dict, readouts: list, synapses: dict, start: dict) -> tuple[float, dict]:
    """Add the readout synapse layers to `synapses` at one scale; (that scale, their report)."""
    # several readout layers (a NIR graph's parallel synapses into the output) are summed there: one scale
    c_out = min(_weight_ratio(graph.nodes[ro].weight, _is_conv(graph, ro)) for ro in readouts)
    report = {"scale": c_out, "weights_clipped": 0}
    last = max(start[syn[ro][0]] for ro in readouts)     # earlier readout inputs wait in their axons
    for ro in readouts:
        _delay(graph, ro)                        # a delay no chip holds, first: the plainer reason
        if getattr(graph.nodes[ro], "bias_delay", 0) and np.any(graph.nodes[ro].bias):
            raise ValueError(f"node {ro}: a Delay after the readout layer holds its bias back, and the readout's "
                             f"bias is added on every step; put the Delay before the layer")
    for ro in readouts:
        q, info = _quantize_weights(graph.nodes[ro].weight, c_out, 0, _is_conv(graph, ro))
        wait = 0 if _is_conv(graph, ro) else last - start[syn[ro][0]]
        synapses[ro] = replace(_synapse(graph, ro, syn[ro][0], "readout", q, 0), delay=_delay(graph, ro) + wait)
        report["weights_clipped"] += info["weights_clipped"]
    return c_out, report


def _routed_biases(graph: Graph, name: str, ins: list, host_name: str, netx: bool) -> list:
    """The synapse layers into neurons `name` whose bias is not the neurons' constant bias: a bias a
    Delay holds back (bias_delay), and any bias into a CubaLIF of flat neurons (NIR adds it to the
    current, which Loihi's bias skips: it enters v).  The host's goes with its currents; the others
    through a bias neuron (bias_neuron).  A CubaLIF of (C, H, W) neurons keeps the bias on v at the
    current's steady-state size (the approximation the README bounds)."""
    node = graph.nodes[name]
    routed = []
    for n in ins:
        layer = graph.nodes[n]
        if not np.any(layer.bias):
            continue
        held = int(getattr(layer, "bias_delay", 0))
        if held or (node.syn_leak is not None and len(node.shape) == 1):
            if netx:
                raise ValueError(f"node {n}: a bias into a synaptic current or held back by a Delay has no netx form")
            if n == host_name and held != _delay(graph, n):
                raise ValueError(f"node {n}: a Delay before the layer the input feeds and a bias into a current: "
                                 f"put the Delay after the layer, or shift the inputs yourself")
            routed.append(n)
    return routed


def _host_layer(graph: Graph, syn: dict, host_name: str, neurons: dict, netx: bool) -> HostLayer:
    """The host's float synapse layer `host_name`, scaled to the neurons it feeds; a start
    potential v0 of those neurons (a reset potential's frame) is the currents' first-step kick
    round(leak v0 scale) (with du = 4095, u is v's input of that one step alone)."""
    h = graph.nodes[host_name]
    kind = "spikes" if h.source == INPUT_SPIKES else "conv" if isinstance(h, Conv2d) else "dense"
    dst = graph.nodes[syn[host_name][1]]
    first = None
    if dst.v0 is not None:
        check_pulse_target(syn[host_name][1], dst, netx)
        first = np.rint(per_channel(dst.leak, dst.shape) * per_channel(dst.v0, dst.shape)
                        * neurons[syn[host_name][1]].scale).astype(np.int64)
    on_host = netx or host_name in _routed_biases(graph, syn[host_name][1], [host_name], host_name, netx)
    return HostLayer(kind, h.weight,
                     getattr(h, "stride", (1, 1)), getattr(h, "padding", (0, 0)),
                     graph.nodes[syn[host_name][0]].shape, h.shape, neurons[syn[host_name][1]].scale,
                     syn[host_name][1], h.bias.copy() if on_host else None, first=first,
                     delay=int(getattr(h, "delay", 0)))


def _scale(graph: Graph, ins: list, v_th: float, dense_exp: bool = True) -> tuple[float, dict]:
    """The layer scale c and, per input, (quantised weights, {weight_exp, clips, error})."""
    ratio = {n: _weight_ratio(graph.nodes[n].weight, _is_conv(graph, n)) for n in ins}
    c = min(ratio.values())
    if dense_exp and all(isinstance(graph.nodes[n], Linear) for n in ins):  # weight_exp buys resolution
        while c * 2 * v_th <= VTH_TARGET and c * 2 * v_th <= VTH_MAX:
            c *= 2
    return c, {n: _quantize_input(graph, n, c, ratio[n]) for n in ins}


def _is_conv(graph: Graph, name: str) -> bool:
    return isinstance(graph.nodes[name], Conv2d)


def _quantize_input(graph: Graph, name: str, c: float, ratio: float | None = None,
                    max_exp: int | None = None) -> tuple[np.ndarray, dict]:
    """Synapse layer `name` into a layer of scale c: a Conv at weight_exp 0 (it has none), a Dense
    at the weight_exp that lets its weights (own largest scale `ratio`) reach c, at most max_exp."""
    conv = _is_conv(graph, name)
    w = graph.nodes[name].weight
    exp = 0 if conv else _weight_exp(c, _weight_ratio(w) if ratio is None else ratio)
    return _quantize_weights(w, c, exp if max_exp is None else min(max_exp, exp), conv)


def _weight_exp(c: float, ratio: float) -> int:
    """The Dense weight_exp that lets weights whose own largest scale is `ratio` reach scale c."""
    return max(0, math.ceil(math.log2(c / ratio) - 1e-9))


def _synapse(graph: Graph, name: str, src: str, dst: str, q: np.ndarray, exp: int) -> SynapseLayer:
    node = graph.nodes[name]
    in_shape = graph.nodes[_source(graph, name)].shape
    if isinstance(node, Conv2d):
        return SynapseLayer("conv", src, dst, q, 0, node.stride, node.padding, in_shape, node.shape,
                            node.source)
    return SynapseLayer(matrix_kind(q), src, dst, q, exp, (1, 1), (0, 0), in_shape, node.shape, node.source)


def matrix_kind(q: np.ndarray) -> str:
    """"sparse" (Lava's Sparse) for a weight matrix at most SPARSE_MAX_DENSITY full, else "dense"."""
    return "sparse" if np.count_nonzero(q) <= SPARSE_MAX_DENSITY * q.size else "dense"


def _add_relay(neurons: dict, synapses: dict, src: str, start: int, name: str) -> str:
    """A relay layer after `src`: identity synapse (weight 1) into neurons that fire on one spike."""
    shape = neurons[src].shape
    conv = len(shape) == 3
    eye = np.eye(shape[0], dtype=np.int64)
    synapses[f"{name}_syn"] = SynapseLayer("conv" if conv else matrix_kind(eye), src, name,
                                           eye[:, :, None, None] if conv else eye, 0, (1, 1), (0, 0),
                                           shape, shape, "relay")
    z = np.zeros(shape, np.int64)
    neurons[name] = NeuronLayer(shape, z + DU_MAX, z + DV_MAX, z, z, z, start, 0.0, relay=True,
                                source="relay")
    return name


def quantize_named(graph: Graph, source, netx: bool = False) -> Program:
    """quantize(graph), its refusals (a graph the chip cannot run) as one InputError naming
    `source`, the file the graph came from."""
    try:
        return quantize(graph, netx=netx)
    except ValueError as e:
        raise InputError(f"{source}: {str(e).splitlines()[0]}") from None
