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
a pulse neuron that fires once to set a reset potential's start (`_initial_pulse`) and a bias
neuron firing on every step to put a bias where NIR puts it, into a synaptic current or after a
Delay (`_bias_neuron`).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from spikefold.compile.graph import Graph, unique_name
from spikefold.compile.passes import fold_avgpool, fold_neuron_gain
from spikefold.compile.nodes import LI, SYNAPTIC, Conv2d, Flatten, Input, LIF, Linear, Output, per_channel
from spikefold.chip.program import HostLayer, NeuronLayer, Program, SynapseLayer
from spikefold.chip.weights import lava_weights, sign_mode, weight_bound
from spikefold.common.cli import InputError
from spikefold.chip.formats import (MAX_DELAY, BIAS_EXP_MAX, BIAS_MANT_MAX, BIAS_MANT_MIN, DECAY_UNITY, DU_MAX,
                                DV_MAX, SPARSE_MAX_DENSITY, VTH_MAX)

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


SPIKE_READOUT, INPUT_SPIKES = "spike readout", "input spikes"
ADDED = (SPIKE_READOUT, INPUT_SPIKES)   # sources of the nodes deployment adds to a user's graph


def spike_readout(graph: Graph) -> Graph:
    """Where neurons feed the Output directly (graphs from other frameworks often end in a LIF),
    an identity Linear between them: the chip reads out through synapses, and this readout's
    activations are exactly the neurons' spikes (logits = spike counts per step)."""
    nodes, edges = dict(graph.nodes), list(graph.edges)
    for out in graph.of_type(Output):
        preds = graph.preds(out)
        if len(preds) != 1 or not isinstance(graph.nodes[_through_flatten(graph, preds[0])], LIF):
            continue                # synapses feed the output (several: SMA's summed branches)
        pred = preds[0]
        shape = graph.nodes[pred].shape
        if len(shape) != 1:
            raise ValueError(f"node {out}: neurons of shape {shape} feed the output; flatten them first")
        name = unique_name(nodes, f"{pred}_spikes")
        nodes = {**{k: v for k, v in nodes.items() if k != out},
                 name: Linear(np.eye(shape[0]), np.zeros(shape[0]), shape, source=SPIKE_READOUT),
                 out: nodes[out]}
        edges = [e for e in edges if e != (pred, out)] + [(pred, name), (name, out)]
    return graph if len(nodes) == len(graph.nodes) else Graph.build(nodes, edges, dict(graph.meta))


def _delay(graph: Graph, name: str) -> int:
    delay = int(getattr(graph.nodes[name], "delay", 0))
    if delay > MAX_DELAY:
        raise ValueError(f"node {name}: a delay of {delay:,} steps; the chip's synaptic delays reach "
                         f"{MAX_DELAY} steps (a 6-bit field; lava-dl's Delay(max_delay=62))")
    return delay


def _through_flatten(graph: Graph, name: str) -> str:
    while isinstance(graph.nodes[name], Flatten):
        (name,) = graph.preds(name)
    return name


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


def spikes_on_chip(graph: Graph, most: int = 1) -> Graph:
    """For inputs that are spikes or event counts (whole numbers 0..`most` on each step and
    element; 1: spikes): an input layer on the chip, `most` copies of the input's shape after the
    Input, so the first real synapse runs on the chip fed by one spike per event.  The host
    applies a diagonal synapse as a copy (channel j C + c of the copies is channel c times
    1 / (2 j + 1), j = 0..most-1) into neurons with no memory that fire at > 1/2: copy j fires
    exactly when x > j + 1/2, that is x >= j + 1, so a count of n is n spikes on its step (no bias:
    a bias of several thresholds would not fit Loihi's 13-bit mantissa and 3-bit exponent).  The first real synapse's weights repeat
    for every copy along its input channels (sum_j W [x >= j + 1] = W x), so for such inputs the
    graph computes what it computed (in floats, up to the order of the sum).  Its consumers may be
    Conv2d, Linear and Flatten -> Linear; any other with most > 1 is a ValueError."""
    (inp,) = graph.of_type(Input)
    for first in graph.succs(inp):      # a reset potential's start reaches (C, H, W) neurons only from the host
        for n in graph.succs(first):
            if isinstance(graph.nodes[n], LIF) and graph.nodes[n].v0 is not None and len(graph.nodes[n].shape) == 3:
                raise ValueError(f"node {n}: a reset potential on (C, H, W) neurons takes its start from the host; "
                                 f"their input stays on the host")
    shape = graph.nodes[inp].shape
    c = shape[0]
    big = (c * most, *shape[1:])
    gain = 1.0 / (2 * np.repeat(np.arange(most), c) + 1)
    eye = np.tile(np.eye(c), (most, 1)) * gain[:, None]   # (most C, C): row j C + c is channel c / (2 j + 1)
    zero = np.zeros(c * most)
    ident = (Conv2d(eye[:, :, None, None], zero, (1, 1), (0, 0), big, source=INPUT_SPIKES)
             if len(shape) == 3 else Linear(eye, zero, big, source=INPUT_SPIKES))
    copy, spikes = unique_name(graph.nodes, "input_copy"), unique_name(graph.nodes, "input_spikes")
    # leak 1/4096: Loihi's largest dv (4095) exactly; v is 0 after every spike, and what a step
    # below threshold leaves (at most 1/4096 of it) never carries the next step across
    neurons = LIF(np.full(c * most, 1 / 4096), np.ones(c * most), 0.5, big, source=INPUT_SPIKES, rule="gt")
    nodes = {inp: graph.nodes[inp], copy: ident, spikes: neurons,
             **{k: v for k, v in graph.nodes.items() if k != inp}}
    if most > 1:
        for b in graph.succs(inp):
            for name, node in _repeated_inputs(graph, b, most):
                nodes[name] = node
    edges = [(spikes if a == inp else a, b) for a, b in graph.edges] + [(inp, copy), (copy, spikes)]
    return Graph.build(nodes, edges, {**graph.meta, "spike_input": True})


def _repeated_inputs(graph: Graph, name: str, most: int) -> list[tuple[str, object]]:
    """The consumer `name` of the input (and, through a Flatten, its Linear consumers) reading
    `most` copies of the input: weights repeated along the input axis."""
    node = graph.nodes[name]
    if isinstance(node, Conv2d):
        return [(name, replace(node, weight=np.tile(node.weight, (1, most, 1, 1))))]
    if isinstance(node, Linear):
        return [(name, replace(node, weight=np.tile(node.weight, (1, most))))]
    if isinstance(node, Flatten):
        out = [(name, replace(node, shape=(node.shape[0] * most,)))]
        for b in graph.succs(name):
            if not isinstance(graph.nodes[b], Linear):
                raise ValueError(f"node {b}: event counts on the chip need a Linear after the input's Flatten")
            out += _repeated_inputs(graph, b, most)
        return out
    raise ValueError(f"node {name}: event counts on the chip need a Conv2d, Linear or Flatten after the input, "
                     f"not {type(node).__name__}")


def quantize(graph: Graph, netx: bool = False) -> Program:
    """The fixed-point program of a lowered graph (from compile.pipeline.lower or read_nir).

    netx=True restricts it to what lava-dl netx files express: biases as mantissas with
    bias_exp = 6, no Dense weight_exp, and the host layer's bias added to the host currents
    (netx input layers take one scalar bias)."""
    # NIR graphs carry gain dt/tau (the chip has none) and may pool between layers (folded into weights)
    graph = fold_neuron_gain(fold_avgpool(spike_readout(graph)))
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
            report["layers"][name]["initial_potential"] = _initial_pulse(graph, name, c, start[name], neurons,
                                                                         synapses, netx)
        for n in routed:
            if n != host_name:
                _bias_neuron(graph, n, name, c, start[name], neurons, synapses)
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
    through a bias neuron (_bias_neuron).  A CubaLIF of (C, H, W) neurons keeps the bias on v at the
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


def _exact_dense(values: np.ndarray, prefix: str, src: str, dst: str, shape: tuple, synapses: dict,
                 source: str, what: str, delay: int = 0) -> int:
    """Dense synapses from the one-neuron layer `src` into `dst` delivering the integer activations
    `values` (shape (F,)) exactly on each of its spikes: an even 8-bit mantissa at weight_exp 0..7 (any
    sign mode keeps even values) plus what it leaves (|rest| <= 2**exp) at weight_exp 0, in one
    excitatory and one inhibitory Dense (Lava truncates mixed-sign weights to even values).  How many."""
    values = np.asarray(values, np.int64)
    exp = int(np.clip(math.ceil(math.log2(max(np.abs(values).max() / 254, 1.0))), 0, 7))
    q = lava_weights(2 * np.rint(values / (1 << exp) / 2).astype(np.int64))
    rest = values - q * (1 << exp)
    if np.any(np.abs(rest) > 255):
        raise ValueError(f"node {dst}: {what} of {int(np.abs(values).max()):,} activation units is beyond one "
                         f"synapse's reach (254 << 7)")
    parts = [(q, exp)] + [(np.where(rest * sign > 0, rest, 0), 0) for sign in (1, -1) if np.any(rest * sign > 0)]
    for i, (w, e) in enumerate(parts):
        synapses[f"{prefix}{i or ''}"] = SynapseLayer("dense", src, dst, w[:, None], e, (1, 1), (0, 0), (1,), shape,
                                                      source, delay=delay)
    return len(parts)


def _bias_neuron(graph: Graph, syn_name: str, name: str, c: float, start: int, neurons: dict,
                 synapses: dict) -> None:
    """The bias of synapse layer `syn_name` into neurons `name` (scale c) as synaptic input: a
    one-neuron layer that fires on every step from its start, the step before the frame of `name`
    (bias 1 > vth 0, v back to 0 by the reset, dv = du = 4095), feeds round(bias c) activation
    units exactly (_exact_dense), delayed by bias_delay so they arrive from that frame step on,
    into u: where NIR puts it."""
    layer = graph.nodes[syn_name]
    first = start - 1           # it fires from here; its input lands one step on, plus the bias's delay
    if first < 0:
        raise ValueError(f"node {syn_name}: a bias into a current of the first layer (add it to the inputs)")
    on = f"bias_on_{first}"
    if on not in neurons:
        one = np.ones((1,), np.int64)
        neurons[on] = NeuronLayer((1,), one * DU_MAX, one * DV_MAX, 0 * one, one, 0 * one, first, 0.0,
                                  relay=True, source="bias neuron")
    node = graph.nodes[name]
    if len(node.shape) != 1:
        raise ValueError(f"node {syn_name}: a held-back bias into (C, H, W) neurons has no synapse here")
    _exact_dense(np.rint(per_channel(layer.bias, node.shape) * c), f"{syn_name}_bias", on, name, node.shape,
                 synapses, "bias neuron", "a bias", delay=int(getattr(layer, "bias_delay", 0)))


def _host_layer(graph: Graph, syn: dict, host_name: str, neurons: dict, netx: bool) -> HostLayer:
    """The host's float synapse layer `host_name`, scaled to the neurons it feeds; a start
    potential v0 of those neurons (a reset potential's frame) is the currents' first-step kick
    round(leak v0 scale) (with du = 4095, u is v's input of that one step alone)."""
    h = graph.nodes[host_name]
    kind = "spikes" if h.source == INPUT_SPIKES else "conv" if isinstance(h, Conv2d) else "dense"
    dst = graph.nodes[syn[host_name][1]]
    first = None
    if dst.v0 is not None:
        _check_pulse_target(syn[host_name][1], dst, netx)
        first = np.rint(per_channel(dst.leak, dst.shape) * per_channel(dst.v0, dst.shape)
                        * neurons[syn[host_name][1]].scale).astype(np.int64)
    on_host = netx or host_name in _routed_biases(graph, syn[host_name][1], [host_name], host_name, netx)
    return HostLayer(kind, h.weight,
                     getattr(h, "stride", (1, 1)), getattr(h, "padding", (0, 0)),
                     graph.nodes[syn[host_name][0]].shape, h.shape, neurons[syn[host_name][1]].scale,
                     syn[host_name][1], h.bias.copy() if on_host else None, first=first,
                     delay=int(getattr(h, "delay", 0)))


PULSE_HOLD = 25_000     # steps the pulse neuron's self-inhibition provably outlasts (see _initial_pulse)


def _check_pulse_target(name: str, node: LIF, netx: bool) -> None:
    if node.syn_leak is not None:
        raise ValueError(f"node {name}: a CubaLIF (or a LIF after an LI) with v_reset != 0: NIR's start at v = 0 "
                         f"is -v_reset in the chip's reset-to-0 frame, and Loihi can set it only through the "
                         f"current u, which these neurons keep for later steps; set v_reset = 0")
    if netx:
        raise ValueError(f"node {name}: a reset potential (v_reset != 0) has no netx form here")


def _initial_pulse(graph: Graph, name: str, c: float, start: int, neurons: dict, synapses: dict,
                   netx: bool) -> dict:
    """NIR's start at v = 0 for neurons `name` that run in a reset potential's frame (v0 = -v_reset,
    compile/nir_read.py): on their first step (index `start`) they must receive leak * v0 on top of
    their input.  A one-neuron pulse layer (one per start step, shared) fires exactly once, on step
    start - 1: its bias 1 fires it (v = 1 > vth 0) on its first biased step, and its own
    spike, through an inhibitory recurrent synapse -255 << 7 into a current that keeps
    4095/4096 of itself (du = 0), holds it below 0 for PULSE_HOLD steps and more (u shrinks by
    |u| / 4096 per step: ln(2088960 / 4096) 4096 + 4096 > 29,000 steps; v keeps 1/4096 of itself
    and cannot saturate).  Its Dense synapse into `name` carries round(leak v0 c) in activation
    units, exactly: an even 8-bit mantissa at weight_exp 0..7 plus what it leaves (|rest| <= 128) at
    weight_exp 0 in one excitatory and one inhibitory Dense (Lava truncates mixed-sign weights to
    even values).  Lava and the simulator run the pulse as any layer."""
    node = graph.nodes[name]
    _check_pulse_target(name, node, netx)
    if len(node.shape) != 1:
        raise ValueError(f"node {name}: v_reset != 0 on a convolutional layer not fed by the input: its start "
                         f"potential has no synapse here (flat layers and the first layer take it); set v_reset = 0")
    if graph.meta["timesteps"] + start > PULSE_HOLD:
        raise ValueError(f"node {name}: v_reset != 0 beyond layer 1 runs with a pulse neuron that holds for "
                         f"{PULSE_HOLD:,} steps; {graph.meta['timesteps']:,} asked")
    pulse = f"initial_potential_{start - 1}"
    if pulse not in neurons:
        one = np.ones((1,), np.int64)
        neurons[pulse] = NeuronLayer((1,), 0 * one, one * DV_MAX, 0 * one, one, 0 * one, start - 1, 0.0,
                                     relay=True, source="initial potential")
        synapses[f"{pulse}_hold"] = SynapseLayer("dense", pulse, pulse, -255 * np.ones((1, 1), np.int64), 7,
                                                 (1, 1), (0, 0), (1,), (1,), "initial potential")
    kick = np.rint(per_channel(node.leak, node.shape) * per_channel(node.v0, node.shape) * c)   # activation units
    parts = _exact_dense(kick, f"{name}_initial", pulse, name, node.shape, synapses, "initial potential",
                         "a start potential")
    return {"pulse": pulse, "kick": [int(k) for k in kick[:8]], "synapses": parts}


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
