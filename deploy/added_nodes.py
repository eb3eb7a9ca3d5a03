"""The nodes deployment adds to a user's graph before quantising it (deploy/quantize.py): an
identity readout where neurons feed the output, and an input layer on the chip for spike and
event-count inputs.  Their `source` names them (ADDED), so reports can leave them out of the
user's network."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from spikefold.compile.graph import Graph, unique_name
from spikefold.compile.nodes import Conv2d, Flatten, Input, LIF, Linear, Output

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


def _through_flatten(graph: Graph, name: str) -> str:
    while isinstance(graph.nodes[name], Flatten):
        (name,) = graph.preds(name)
    return name


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
