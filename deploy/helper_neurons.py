"""One-neuron helper layers the quantiser adds where NIR puts something a Loihi synapse cannot
carry by itself (deploy/quantize.py): a bias neuron that fires every step and feeds a bias into
a current (or holds it back behind a delay), and a pulse neuron that fires once and gives a
reset potential's neurons their start v = 0 (NIR's) in the chip's reset-to-0 frame.  Both are
flagged `relay` (helpers, not the user's neurons)."""
from __future__ import annotations

import math

import numpy as np

from spikefold.chip.formats import DU_MAX, DV_MAX
from spikefold.chip.program import NeuronLayer, SynapseLayer
from spikefold.chip.weights import lava_weights
from spikefold.compile.graph import Graph
from spikefold.compile.nodes import LIF, per_channel

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


def bias_neuron(graph: Graph, syn_name: str, name: str, c: float, start: int, neurons: dict,
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


PULSE_HOLD = 25_000     # steps the pulse neuron's self-inhibition provably outlasts (see initial_pulse)


def check_pulse_target(name: str, node: LIF, netx: bool) -> None:
    if node.syn_leak is not None:
        raise ValueError(f"node {name}: a CubaLIF (or a LIF after an LI) with v_reset != 0: NIR's start at v = 0 "
                         f"is -v_reset in the chip's reset-to-0 frame, and Loihi can set it only through the "
                         f"current u, which these neurons keep for later steps; set v_reset = 0")
    if netx:
        raise ValueError(f"node {name}: a reset potential (v_reset != 0) has no netx form here")


def initial_pulse(graph: Graph, name: str, c: float, start: int, neurons: dict, synapses: dict,
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
    check_pulse_target(name, node, netx)
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
