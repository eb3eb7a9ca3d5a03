"""A lava-dl netx HDF5 file (`.net`) as a `chip.program.Program`, read as lava-dl 0.6.0's
`lava.lib.dl.netx.hdf5.Network(net_config, reset_interval, reset_offset)` builds it.

The file's integers are the program: weights, thresholds, decays and biases are taken as Lava's
processes hold them, with nothing requantised.  Per block, in file order (`layer/0`, `layer/1`,
...), netx builds a neuron process (Lava's LIF, or LIFReset when given a reset_interval) behind
a synapse, and so does this reader:

    input      the network's first neurons (a LIF, no synapse), its input entering only
               through their bias: lava-dl's PilotNet runs set `in_layer.neuron.bias_mant` to
               the frame.  Here a HostLayer of kind "bias": the program's input x (B, C, H, W)
               or (B, F), integers, is that bias mantissa.  The block's own `weight` and `bias`
               are netx's `transform` (how a frame becomes that bias), which Lava never applies:
               kept in program.report["input_transform"].
    conv       Lava's Conv (24-bit wrapping accumulator, no weight exponent) on the file's
               kernel (C_out, C_in / groups, kH, kW[, 1]) in PyTorch's cross-correlation order,
               stride and padding in (H, W) order; groups and dilation are expanded into one
               full kernel (the same integer sums).
    dense      Lava's Dense (DelayDense with `delay`) on weights scaled as netx's
               optimize_weight_bits scales them (w << s, weight_exp -s, num_weight_bits) and
               then clipped and truncated as Lava's Dense model does on its first step; a
               dense block reading a (C, H, W) layer needs a `flatten` block before it, which
               netx builds as a transpose to (C, H, W) and a flatten (spikefold's order).
    dense_rec  the same plus a recurrent Dense from the block's neurons to themselves, both
               sharing one exponent (netx optimises the two matrices side by side).

Neurons: `type` LOIHI or CUBA, Lava's LIF(du = iDecay - 1, dv = vDecay, vth = vThMant,
bias_exp = 6); a dense block without `neuron` gets netx's default (iDecay 0, vDecay 4096,
vThMant 1 << 17: it never fires).  Every layer's bias is on from step 0 (netx has no start
schedule), so every NeuronLayer.start is 0.  With reset_interval, block k (the input block is
block 0) zeroes its u and v on the steps whose Lava time_step % reset_interval ==
(reset_offset + 1 + k) % reset_interval, as netx assigns offsets.

The program's readout is the network's out port, the last block's spikes, through an identity
synapse (logits = those spikes per step, read on the host); depth = the number of blocks.

Refused with a NetxFormatError naming file, layer and field: what lava-dl itself cannot build
(pool, average, concat, convT, unpool: its Network raises NotImplementedError), and what
spikefold's engine cannot run exactly: sigma-delta (SDNN) and resonate-and-fire neurons, graded
spikes (messageBits > 0 or gradedSpike), complex dense blocks, an input layer without neurons,
per-neuron axonal delays that differ, conv delays (which netx ignores), a refractory delay
(refDelay > 1, which lava-dl's LIF drops) and a nonzero wgtExp (which netx ignores, deriving the
exponent from the weights).  Malformed files (a missing field, a wrong shape, NaN, a
non-integer, a value out of range) likewise.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from spikefold.chip.program import HostLayer, NeuronLayer, Program, SynapseLayer
from spikefold.chip.weights import lava_weights
from spikefold.common.validate import MAX_MB
from spikefold.deploy.netx_fields import (NetxFormatError, Where, bias, dense_weights, field, integers,
                                          netx_weight_bits, per_neuron, text, vth_range)

__all__ = ["NetxFormatError", "is_netx", "read_netx"]

NETX_BIAS_EXP = 6           # netx fixes every LIF's bias_exp
NETX_MAX_DELAY = 62         # netx clips dense delays above it (with a warning)
# create_dense's neurons for a dense block without any: a non-leaky integrator.  vThMant is
# written `1 << 18 - 1` there, which Python reads as 1 << 17.
DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}
NOT_IN_LAVA_DL = ("pool", "average", "concat", "convT", "unpool")


def is_netx(path) -> bool:
    """Whether `path` is a netx file: named .net (read_netx then says what is wrong with it), or
    HDF5 with a `layer` group (a NIR file has `node` instead)."""
    if Path(path).suffix == ".net":
        return True
    try:
        with h5py.File(path, "r") as f:
            return "layer" in f and "node" not in f
    except (OSError, ValueError):
        return False


def read_netx(path, timesteps: int | None = None, reset_interval: int | None = None,
              reset_offset: int = 0, max_mb: float = MAX_MB) -> Program:
    """The Program lava-dl's Network(path, reset_interval=..., reset_offset=...) runs; T =
    `timesteps`, else reset_interval, else the file's simulation/tSample.  A file declaring over
    `max_mb` MiB of arrays is refused before any is read."""
    where = Where(str(path))
    if not Path(path).is_file():
        raise where.error("", "no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise NetxFormatError(f"{path}: not a readable HDF5 file ({str(e).splitlines()[0]})") from None
    with f:
        sizes = []
        f.visititems(lambda _, o: sizes.append(o.size * o.dtype.itemsize) if isinstance(o, h5py.Dataset) else None)
        if sum(sizes) > max_mb * (1 << 20):
            raise NetxFormatError(f"{path}: declares {sum(sizes) / (1 << 20):,.0f} MiB of arrays, over the "
                                  f"{max_mb:g} MiB limit (raise it with --max-mb)")
        try:
            return _Reader(f, where, reset_interval, reset_offset).program(timesteps)
        except (KeyError, OSError) as e:     # h5py on a truncated file's structure
            raise NetxFormatError(f"{path}: unreadable structure ({str(e).splitlines()[0]})") from None


def _shape(g: h5py.Group, w: Where) -> tuple:
    s = integers(field(g, "shape", w), "shape", w, lo=1)
    if s.ndim != 1 or not 1 <= s.size <= 3:
        raise w.error("shape", f"{s.tolist()} is not 1 to 3 sizes")
    return tuple(int(x) for x in s)


def _pair(g: h5py.Group, key: str, w: Where, lo: int) -> tuple:
    """stride, padding or dilation: a scalar for both axes, or (H, W) (netx reverses it to Lava's
    (x, y))."""
    a = integers(field(g, key, w), key, w, lo=lo)
    if a.ndim == 0:
        return int(a), int(a)
    if a.shape != (2,):
        raise w.error(key, f"has shape {a.shape}, expected a scalar or 2 values")
    return int(a[0]), int(a[1])


class _Reader:
    """One pass over the file's blocks, collecting neuron and synapse layers in order."""

    def __init__(self, f: h5py.File, where: Where, reset_interval: int | None, reset_offset: int):
        if reset_interval is not None and reset_interval < 1:
            raise ValueError(f"reset_interval must be a positive number of steps (got {reset_interval})")
        self.f, self.where = f, where
        self.reset_interval, self.reset_offset = reset_interval or 0, reset_offset
        self.neurons, self.synapses = {}, {}
        self.host, self.last, self.flatten = None, None, False
        self.report = {"netx": where.path}

    def program(self, timesteps: int | None) -> Program:
        if "layer" not in self.f:
            raise self.where.error("layer", "missing")
        layers = self.f["layer"]
        names = sorted(layers.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        if names != [str(i) for i in range(len(names))]:
            raise self.where.error("layer", f"groups {names} are not numbered 0..{len(names) - 1}")
        if not names:
            raise self.where.error("layer", "empty")
        for i in range(len(names)):
            self.block(i, layers[str(i)], Where(self.where.path, f"layer/{i}"))
        T = timesteps or self.reset_interval or self._t_sample()
        last = self.neurons[self.last]
        k = int(np.prod(last.shape))
        self.synapses["out"] = SynapseLayer("dense", self.last, "readout", np.eye(k, dtype=np.int64), 0,
                                            (), (), last.shape, (k,), source="the network's out port")
        return Program(self.host, self.neurons, self.synapses, ("out",), 1.0, np.zeros(k), T,
                       len(self.neurons), self.host.in_shape, self.report)

    def _t_sample(self) -> int:
        if "simulation" not in self.f or "tSample" not in self.f["simulation"]:
            raise self.where.error("simulation/tSample", "missing: pass timesteps (--timesteps: steps per sample)")
        w = Where(self.where.path, "simulation")
        return int(integers(field(self.f["simulation"], "tSample", w), "tSample", w, lo=1))

    def block(self, i: int, g: h5py.Group, w: Where) -> None:
        kind = text(g, "type", w)
        if kind in NOT_IN_LAVA_DL:
            raise w.error("type", f"a {kind} block: lava-dl's netx Network does not implement it either")
        if kind == "flatten":
            self.flatten = True
            return
        if kind == "input":
            self.input(i, g, w)
        elif kind == "conv":
            self.conv(i, g, w)
        elif kind in ("dense", "dense_rec"):
            self.dense(i, g, w, kind == "dense_rec")
        elif kind == "dense_comp":
            raise w.error("type", "a complex dense block (resonate-and-fire neurons with two synapses): "
                                  "spikefold's engine runs LIF neurons only")
        else:
            raise w.error("type", f"unknown block type {kind!r}")

    def input(self, i: int, g: h5py.Group, w: Where) -> None:
        if i:
            raise w.error("type", "an input block after the first")
        shape = _shape(g, w)
        if "neuron" not in g:
            raise w.error("neuron", "missing: an input layer without neurons takes its input as spikes into "
                                    "the next block's synapses; spikefold reads netx inputs held in an input "
                                    "layer's bias")
        name = f"input{i}"
        self.add_neurons(name, g["neuron"], w, shape, np.zeros(shape, np.int64))
        self.host = HostLayer("bias", np.zeros(0), (), (), shape, shape, 1.0, name)
        self.report["input_transform"] = {k: int(integers(field(g, k, w), k, w)) for k in ("weight", "bias")
                                          if k in g}

    def source(self, w: Where, flat: bool) -> NeuronLayer:
        """The layer a block reads: the last one, flattened by a `flatten` block before a dense."""
        if self.last is None:
            raise w.error("type", "a synaptic block before any input layer with neurons")
        src = self.neurons[self.last]
        if not flat and len(src.shape) != 3:
            raise w.error("type", f"a conv block reading the flat layer {self.last} {src.shape}")
        if flat and len(src.shape) == 3 and not self.flatten:
            raise w.error("type", f"a dense block reading the (C, H, W) layer {self.last} with no flatten "
                                  f"block before it (Lava cannot connect the two)")
        self.flatten = False
        return src

    def conv(self, i: int, g: h5py.Group, w: Where) -> None:
        src = self.source(w, flat=False)
        shape = _shape(g, w)
        if len(shape) != 3:
            raise w.error("shape", f"{shape} is not (C, H, W)")
        k = integers(field(g, "weight", w), "weight", w)
        if k.ndim == 5 and k.shape[4] == 1:             # netx reshapes to the first 4 axes
            k = k[..., 0]
        groups = int(integers(field(g, "groups", w), "groups", w, lo=1))
        c_in = src.shape[0]
        if k.ndim != 4 or k.shape[0] != shape[0] or k.shape[1] * groups != c_in or shape[0] % groups:
            raise w.error("weight", f"has shape {k.shape}, expected ({shape[0]}, {c_in // groups}, kH, kW) "
                                    f"for {groups} groups from {c_in} channels")
        stride, pad, dil = (_pair(g, key, w, lo) for key, lo in (("stride", 1), ("padding", 0), ("dilation", 1)))
        full = np.zeros((shape[0], c_in, (k.shape[2] - 1) * dil[0] + 1, (k.shape[3] - 1) * dil[1] + 1), np.int64)
        per_in, per_out = c_in // groups, shape[0] // groups
        for j in range(groups):                          # block-diagonal over the groups, dilated
            full[j * per_out:(j + 1) * per_out, j * per_in:(j + 1) * per_in, ::dil[0], ::dil[1]] = \
                k[j * per_out:(j + 1) * per_out]
        out = tuple((src.shape[1 + a] + 2 * pad[a] - full.shape[2 + a]) // stride[a] + 1 for a in (0, 1))
        if (shape[0], *out) != shape:
            raise w.error("shape", f"{shape} is not the conv's output {(shape[0], *out)} from {src.shape}")
        if "delay" in g and np.any(integers(field(g, "delay", w), "delay", w)):
            raise w.error("delay", "a conv block's delay, which lava-dl's netx ignores")
        name = f"conv{i}"
        self.synapses[name] = SynapseLayer("conv", self.last, name, full, 0, stride, pad, src.shape, shape,
                                           source=w.layer)
        if "neuron" not in g:
            raise w.error("neuron", "missing")
        self.add_neurons(name, g["neuron"], w, shape, self.block_bias(g, w, shape))

    def dense(self, i: int, g: h5py.Group, w: Where, rec: bool) -> None:
        src = self.source(w, flat=True)
        shape = (int(np.prod(_shape(g, w))),)
        n_in = int(np.prod(src.shape))
        mats = []
        for key, cols in (("weight", n_in), ("weight_rec", shape[0]))[: 1 + rec]:
            m = integers(field(g, key, w), key, w)
            m = m.reshape(shape[0], -1) if m.ndim == 1 and m.size % shape[0] == 0 else m
            if m.shape != (shape[0], cols):
                raise w.error(key, f"has shape {m.shape}, expected {(shape[0], cols)}")
            mats.append(m)
        scaled, bits, exp = netx_weight_bits(np.hstack(mats), w, "weight_rec" if rec else "weight")
        mats = [dense_weights(m, bits) for m in np.split(scaled, [n_in], axis=1)[: len(mats)]]
        for key, m in zip(("weight", "weight_rec"), mats):
            if not np.array_equal(lava_weights(m), m):
                raise w.error(key, f"{bits}-bit mixed-sign weights with odd values, which Lava keeps and "
                                   f"spikefold's Dense truncates to 8 bits")
        delay = self.delay(g, w, mats[0], rec) if "delay" in g else 0
        name = f"dense{i}"
        self.synapses[name] = SynapseLayer("dense", self.last, name, mats[0], exp, (), (), src.shape, shape,
                                           source=w.layer, delay=delay)
        if rec:
            self.synapses[f"{name}.rec"] = SynapseLayer("dense", name, name, mats[1], exp, (), (), shape, shape,
                                                        source=f"{w.layer}/weight_rec")
        self.add_neurons(name, g["neuron"] if "neuron" in g else None, w, shape, self.block_bias(g, w, shape))

    @staticmethod
    def delay(g: h5py.Group, w: Where, weight: np.ndarray, rec: bool) -> int:
        """One axonal delay for the whole synapse layer (SynapseLayer.delay), from netx's scalar,
        per-output (axonal), per-input or per-synapse delays clipped to 62 as netx clips them."""
        if rec:
            raise w.error("delay", "a recurrent block with delays (lava-dl's RecurrentDense then drops the "
                                   "weight exponent)")
        d = np.minimum(integers(field(g, "delay", w), "delay", w, lo=0), NETX_MAX_DELAY)
        if d.ndim == 1 and d.size in weight.shape:
            d = d[:, None] if d.size == weight.shape[0] else d[None, :]   # netx tries outputs first
        elif d.ndim not in (0, 2) or d.ndim == 2 and d.shape != weight.shape:
            raise w.error("delay", f"has shape {d.shape}, incompatible with the weights {weight.shape}")
        used = np.unique(np.broadcast_to(d, weight.shape)[weight != 0])
        if used.size > 1:
            raise w.error("delay", f"delays {used.min()}..{used.max()} differ between neurons: a spikefold "
                                   f"synapse layer has one delay")
        return int(used[0]) if used.size else 0

    def block_bias(self, g: h5py.Group, w: Where, shape: tuple) -> np.ndarray:
        return bias(field(g, "bias", w), w, shape) if "bias" in g else np.zeros(shape, np.int64)

    def add_neurons(self, name: str, g: h5py.Group | None, block: Where, shape: tuple,
                    bias_mant: np.ndarray) -> None:
        """Block k's LIF (or LIFReset): netx's get_neuron_params on the block's group `neuron`
        (None: netx's default for a dense block without one)."""
        w = Where(block.path, f"{block.layer}/neuron")
        kind = DEFAULT_NEURON["type"] if g is None else text(g, "type", w)
        if kind == "SDNN":
            raise w.error("type", "sigma-delta (SDNN) neurons: graded messages and sigma/delta state, which "
                                  "spikefold's engine (0/1 spikes, LIF state) cannot run")
        if kind not in ("LOIHI", "CUBA"):
            raise w.error("type", f"{kind!r} neurons: spikefold runs LOIHI / CUBA (LIF) neurons only")
        get = (lambda key: DEFAULT_NEURON[key]) if g is None else (lambda key: field(g, key, w))
        if g is not None:
            if "messageBits" in g and integers(field(g, "messageBits", w), "messageBits", w) != 0:
                raise w.error("messageBits", "graded spikes: spikefold's engine runs 0/1 spikes")
            if "gradedSpike" in g and bool(np.asarray(field(g, "gradedSpike", w)).any()):
                raise w.error("gradedSpike", "graded spikes: spikefold's engine runs 0/1 spikes")
            if "refDelay" in g and np.any(integers(field(g, "refDelay", w), "refDelay", w) > 1):
                raise w.error("refDelay", "a refractory period of more than one step, which lava-dl's LIF "
                                          "drops and spikefold's LIF does not have")
            if "wgtExp" in g and np.any(integers(field(g, "wgtExp", w), "wgtExp", w) != 0):
                raise w.error("wgtExp", "nonzero, but lava-dl's netx ignores it (it derives the weight "
                                        "exponent from the weights): the file's meaning is ambiguous")
        self.neurons[name] = NeuronLayer(
            shape,
            du=per_neuron(get("iDecay"), "iDecay", w, shape, 0, 4096) - 1,
            dv=per_neuron(get("vDecay"), "vDecay", w, shape, 0, 4096),
            vth=per_neuron(get("vThMant"), "vThMant", w, shape, *vth_range()),
            bias_mant=bias_mant, bias_exp=np.full(shape, NETX_BIAS_EXP, np.int64), start=0, scale=1.0,
            source=block.layer,
            reset_interval=self.reset_interval, reset_offset=self.reset_offset + 1 + len(self.neurons))
        self.last = name
