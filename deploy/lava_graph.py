"""A `chip.program.Program` as a Lava process graph, run in Lava's bit-accurate simulator.

Processes: a RingBuffer source of the host layer's integer currents into the first
LIF's a_in; one LIF per neuron layer (per-neuron du, dv, vth, bias arrays); one
Dense, Sparse or Conv per synapse layer (several into one LIF are summed at its a_in, which
is how residual additions run); RingBuffer sinks for the readout activations and,
optionally, every layer's spikes.  Layouts: Lava tensors are (W, H, C), Conv
weights (C_out, kW, kH, C_in) and Lava's Conv computes a true convolution, so
kernels are flipped to give the cross-correlation of the program; Dense weights
reading a (W, H, C) layer get their columns permuted from (C, H, W) order.

Per sample the host resets every u, v and synaptic buffer, loads the currents,
and switches each layer's bias on at its start step (program.py explains why),
pausing the run at those steps; Loihi2SimCfg(select_tag="fixed_pt") selects
PyLifModelBitAcc, PyDenseModelBitAcc, PySparseModelBitAcc and PyConvModelFixed.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csr_matrix

from spikefold.deploy.lava_compat import require_lava

require_lava()                   # one line naming the `lava` extra when Lava is absent
from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.conv.process import Conv  # noqa: E402
from lava.proc.dense.process import DelayDense, Dense  # noqa: E402
from lava.proc.io.sink import RingBuffer as Sink  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402
from lava.proc.lif.process import LIF  # noqa: E402
from lava.proc.sparse.process import DelaySparse, Sparse  # noqa: E402

from spikefold.chip.program import Program  # noqa: E402
from spikefold.chip.host import host_currents  # noqa: E402


def to_lava(a: np.ndarray) -> np.ndarray:
    """(C, H, W, ...) -> (W, H, C, ...); (F, ...) unchanged."""
    return a if a.ndim < 3 else np.swapaxes(a, 0, 2)


def from_lava_steps(data: np.ndarray) -> np.ndarray:
    """A sink's (W, H, C, steps) or (F, steps) buffer -> (steps, C, H, W) or (steps, F)."""
    d = np.moveaxis(data, -1, 0)
    return d.transpose(0, *range(d.ndim - 1, 0, -1))


def source_data(program: Program, currents: np.ndarray) -> np.ndarray:
    """Host currents (T, *host_out_shape) -> a RingBuffer's (W, H, C, steps) data, zero after T."""
    data = np.zeros((*lava_shape(program.host.out_shape), program.steps))
    data[..., : program.timesteps] = to_lava(np.moveaxis(currents, 0, -1))
    return data


def lava_shape(shape: tuple) -> tuple:
    return tuple(shape[::-1]) if len(shape) == 3 else tuple(shape)


def dense_columns(in_shape: tuple) -> np.ndarray:
    """perm[j]: our (C, H, W)-order input index of Lava's flattened (W, H, C) index j."""
    return np.arange(int(np.prod(in_shape))).reshape(in_shape).transpose(*range(len(in_shape))[::-1]).reshape(-1)


class LavaNetwork:
    def __init__(self, program: Program, record_spikes: bool = False):
        p = self.p = program
        steps = p.steps
        self.source = Source(data=np.zeros((*lava_shape(p.host.out_shape), steps)))
        self.lif, self.syn, self.spike_sinks = {}, {}, {}
        for name, n in p.neurons.items():
            self.lif[name] = LIF(shape=lava_shape(n.shape), du=to_lava(n.du), dv=to_lava(n.dv),
                                 vth=to_lava(n.vth), bias_mant=np.zeros(lava_shape(n.shape), np.int64),
                                 bias_exp=to_lava(n.bias_exp), name=name)
            if record_spikes:
                self.spike_sinks[name] = Sink(shape=lava_shape(n.shape), buffer=steps)
                self.lif[name].s_out.connect(self.spike_sinks[name].a_in)
        self.source.s_out.connect(self.lif[p.host.dst].a_in)
        for name, s in p.synapses.items():
            src = self.lif[s.src].s_out
            if s.kind == "conv":
                w = s.weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)   # flipped, (C_out, kW, kH, C_in)
                proc = Conv(weight=np.ascontiguousarray(w), input_shape=lava_shape(s.in_shape),
                            padding=tuple(s.padding[::-1]), stride=tuple(s.stride[::-1]), name=name)
            else:
                w = s.weight[:, dense_columns(s.in_shape)] if len(s.in_shape) == 3 else s.weight
                if s.kind == "sparse":
                    w = csr_matrix(w)
                    proc = Sparse(weights=w, weight_exp=s.weight_exp, name=name) if not s.delay else \
                        DelaySparse(weights=w, delays=s.delay, weight_exp=s.weight_exp, name=name)
                else:
                    proc = Dense(weights=w, weight_exp=s.weight_exp, name=name) if not s.delay else \
                        DelayDense(weights=w, delays=np.full(w.shape, s.delay), weight_exp=s.weight_exp, name=name)
                if len(s.in_shape) == 3:
                    src = src.flatten()
            src.connect(proc.s_in)
            dst = self.lif[s.dst].a_in if s.dst in self.lif else None
            if dst is None:          # every readout synapse into one sink: Lava sums at its a_in
                if not hasattr(self, "readout_sink"):
                    self.readout_sink = Sink(shape=(s.out_shape[0],), buffer=steps)
                dst = self.readout_sink.a_in
            proc.a_out.connect(dst)
            self.syn[name] = proc
        self.cfg = Loihi2SimCfg(select_tag="fixed_pt")
        self.started = False

    def _run(self, steps: int):
        self.source.run(condition=RunSteps(num_steps=steps), run_cfg=self.cfg)
        self.started = True

    def _assign(self, var, value: np.ndarray):
        """Before the first run a Var takes an initial value; afterwards it is set in the runtime."""
        if self.started:
            var.set(value)
        else:
            var.init = value

    def _reset(self):
        """Every u, v, bias and synaptic buffer back to zero, between samples."""
        p = self.p
        for name, n in p.neurons.items():
            z = np.zeros(lava_shape(n.shape))
            self.lif[name].u.set(z)
            self.lif[name].v.set(z)
            self.lif[name].bias_mant.set(z)
        for name, s in p.synapses.items():
            buf = self.syn[name].a_buf if s.kind == "conv" else self.syn[name].a_buff   # Delay*: all delays
            buf.set(np.zeros(buf.shape))

    def run_sample(self, currents: np.ndarray) -> tuple[np.ndarray, dict]:
        """currents (T, *host_out_shape) int -> (readout (T, K) int, {layer: spikes (steps, *shape)})."""
        p = self.p
        if self.started:
            self._reset()
        self._assign(self.source.data, source_data(p, currents))
        done = 0
        for start in sorted({n.start for n in p.neurons.values()}):
            if start > done:
                self._run(start - done)
                done = start
            for name, n in p.neurons.items():
                if n.start == start and np.any(n.bias_mant):
                    self._assign(self.lif[name].bias_mant, to_lava(n.bias_mant).astype(float))
        self._run(p.steps - done)
        ro = self.readout_sink.data.get()[:, p.depth: p.depth + p.timesteps].T
        spikes = {k: from_lava_steps(s.data.get()) for k, s in self.spike_sinks.items()}
        return ro.astype(np.int64), spikes

    def stop(self):
        if self.started:
            self.source.stop()


def run_lava(program: Program, x: torch.Tensor, record_spikes: bool = False):
    """Readout activations (T, B, K) int64 and, if asked, spikes {layer: (steps, B, *shape)}."""
    currents = host_currents(program, x).numpy()
    net = LavaNetwork(program, record_spikes)
    outs, spikes = [], {k: [] for k in program.neurons} if record_spikes else {}
    try:
        for b in range(currents.shape[1]):
            ro, sp = net.run_sample(currents[:, b])
            outs.append(ro)
            for k, v in sp.items():
                spikes[k].append(v)
    finally:
        net.stop()
    return (torch.as_tensor(np.stack(outs, 1)),
            {k: torch.as_tensor(np.stack(v, 1)) for k, v in spikes.items()})
