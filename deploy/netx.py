"""A fixed-point `Program` as a lava-dl netx HDF5 file (`lava.lib.dl.netx.hdf5.Network` reads it).

netx describes a chain: layer/0 `input` holding only the shape of the host-fed neurons,
whose spikes are the network's input (netx's input layer with neurons takes its input
only through its bias, so graded host currents cannot enter it; the host-fed neurons
run as one Lava LIF in front of the netx network), then `conv` and `dense` layers (a `flatten` layer before a dense that reads
a (C, H, W) layer), each with a CUBA neuron {iDecay, vDecay, vThMant, refDelay,
gradedSpike}, which netx maps to Lava's LIF(du=iDecay-1, dv=vDecay, vth=vThMant,
bias_exp=6).  The readout is a last dense layer whose neurons never fire and
accumulate v = 64 * sum_t (a_t + round(bias * readout_scale)).  Shapes and conv weights
are written in (C, H, W) / PyTorch order, as netx expects.  A program netx cannot
express is refused, naming the first layer at fault: a neuron fed by several synapse
layers (residual fan-in) or by a relay chain (a delayed shortcut); netx has no pooling
layer either, but compile/ has folded every pool before a program exists.  Use
`quantize(graph, netx=True)`: netx fixes bias_exp = 6, has no Dense weight_exp and a
scalar input bias.

netx has no bias start schedule either: a program switches layer L's bias on at the step
L's first data arrives (`NeuronLayer.start`), before which L rests at 0.  What does that job in
netx is its self-resetting neurons, as lava-dl streams a test set:
`Network(net_config, reset_interval=T, reset_offset=1)` builds every layer as a LIFReset and
gives each successive layer the next reset offset, so layer i (start i: a chain has no relays)
is zeroed on step i + k T, the step sample k's data first reaches it, and the biases can simply
be on.  The file records both numbers as root attributes `reset_interval` and `reset_offset`
(netx reads only `layer/`); the host-fed layer in front of the network resets with offset 1
(`deploy/lava_graph.py`, run_lava_stream).  Run without resets, every bias is on from step 0 and
a deep layer integrates its bias alone for `start` steps: `as_exported(program)` is that
program; deploy/to_netx.py prints the accuracy of both beside the chip program's.
"""
from __future__ import annotations

from dataclasses import replace
import io
from pathlib import Path

import h5py
import numpy as np

from spikefold.chip.program import Program
from spikefold.chip.formats import VTH_MAX


# Network(reset_offset=1): netx adds 1 (its hardware time starts at 1) and 1 more per block, so
# block i (program layer i, start i) resets at time_step % T == i + 1, as run_lava_stream does.
NETX_RESET_OFFSET = 1
READOUT_DU, READOUT_DV = 4095, 0   # the readout layer's CUBA neurons: current cleared each step, v kept


class NetxUnsupported(ValueError):
    """str(e): one line naming the first layer netx cannot express."""


def _value(a: np.ndarray):
    """A scalar when every neuron shares it, else the per-neuron array in Lava's (W, H, C) order."""
    a = np.asarray(a)
    if np.all(a == a.flat[0]):
        return int(a.flat[0])
    return np.swapaxes(a, 0, 2) if a.ndim == 3 else a


def _neuron(group: h5py.Group, du, dv, vth):
    n = group.create_group("neuron")
    n["type"] = "CUBA"
    n["iDecay"] = _value(np.asarray(du) + 1)
    n["vDecay"] = _value(dv)
    n["vThMant"] = _value(vth)
    n["refDelay"] = 1
    n["gradedSpike"] = False


def as_exported(program: Program) -> Program:
    """The program a netx file of `program` runs: every layer's bias on from step 0."""
    return replace(program, neurons={k: replace(n, start=0) for k, n in program.neurons.items()})


def chain(program: Program) -> list[str]:
    """The synapse layers in order from the host-fed neurons to the readout, or NetxUnsupported."""
    order, cur = [], program.host.dst
    while True:
        outs = program.outputs_of(cur)
        if len(outs) != 1:
            raise NetxUnsupported(f"layer {cur}: feeds {len(outs)} synapse layers (a residual branch); "
                                  f"netx describes a chain")
        syn = program.synapses[outs[0]]
        if syn.dst == "readout" and program.readout_leak is not None:
            raise NetxUnsupported("the readout is a leaky integrator (LI); this netx export writes none")
        if syn.delay:
            raise NetxUnsupported(f"synapse layer {outs[0]}: an axonal delay of {syn.delay} steps; "
                                  f"this netx export writes none")
        order.append(outs[0])
        if syn.dst == "readout":
            return order
        layer = program.neurons[syn.dst]
        if layer.relay:
            raise NetxUnsupported(f"layer {syn.dst}: a relay delaying a shortcut; netx has no residual paths")
        ins = program.inputs_of(syn.dst)
        if len(ins) != 1:
            raise NetxUnsupported(f"layer {syn.dst} ({layer.source}): residual fan-in of {len(ins)} "
                                  f"synapse layers ({', '.join(ins)}); netx describes a chain")
        cur = syn.dst


def write_netx(program: Program, path) -> None:
    order = chain(program)
    if any(np.any(l.bias_exp != 6) for l in program.neurons.values()):
        raise NetxUnsupported("biases need bias_exp = 6 for netx: quantize with netx=True")
    buf = io.BytesIO()             # built in memory: HDF5 writing onto a full disk can crash the process
    with h5py.File(buf, "w") as f:
        f.attrs["reset_interval"], f.attrs["reset_offset"] = program.timesteps, NETX_RESET_OFFSET
        layers = f.create_group("layer")
        g = layers.create_group("0")
        g["type"] = "input"           # shape only: the network's input is the host-fed layer's spikes
        g["shape"] = np.array(program.neurons[program.host.dst].shape)
        i = 1
        for name in order:
            s = program.synapses[name]
            if s.kind != "conv" and len(s.in_shape) == 3:
                layers.create_group(str(i))["type"] = "flatten"
                i += 1
            if s.weight_exp != 0:
                raise NetxUnsupported(f"layer {name}: Dense weight_exp {s.weight_exp}; quantize with netx=True")
            g = layers.create_group(str(i))
            g["type"] = "conv" if s.kind == "conv" else "dense"   # netx has no sparse layer: the same weights
            g["shape"] = np.array(s.out_shape)
            g["weight"] = s.weight.astype(np.float64)
            if s.kind == "conv":
                g["stride"], g["padding"] = np.array(s.stride), np.array(s.padding)
                g["dilation"], g["groups"] = np.array([1, 1]), 1
            if s.dst == "readout":
                k = s.out_shape[0]
                g["bias"] = np.rint(np.asarray(program.readout_bias) * program.readout_scale)
                _neuron(g, np.full(k, READOUT_DU), np.full(k, READOUT_DV), np.full(k, VTH_MAX))
            else:
                layer = program.neurons[s.dst]
                g["bias"] = layer.bias_mant.reshape(layer.shape[0], -1)[:, 0].astype(np.float64)
                if np.any(layer.bias_mant != layer.bias_mant.reshape(layer.shape[0], -1)[:, :1].reshape(
                        layer.shape[0], *([1] * (len(layer.shape) - 1)))):
                    raise NetxUnsupported(f"layer {s.dst}: bias varies within a channel")
                _neuron(g, layer.du, layer.dv, layer.vth)
            i += 1
    Path(path).write_bytes(buf.getvalue())
