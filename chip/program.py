"""A quantised network as the chip runs it: integer neurons and synapses, one host layer.

Shapes are spikefold's (C, H, W) or (F,); weights are in PyTorch layout
(C_out, C_in, kh, kw) or (F_out, F_in) and compute cross-correlation, flattening
in C, H, W order.  `deploy/lava_graph.py` translates layouts for Lava.

Timing (Lava's LoihiProtocol): on step t = 1, 2, ... every synapse delivers what
it computed from the spikes of step t - 1, so a neuron layer at depth `start`
(synaptic layers between it and the host layer) first sees data on step
start + 1.  Its bias is switched on from that step (`start`), so no layer
integrates its bias before its data arrives: the chip then computes, step for
step, what the float network computes.  Relay layers (identity synapse + a
neuron that fires on one spike) delay shortcut paths so every input of a
neuron arrives on the same step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class HostLayer:
    """The first synaptic layer, computed on the host in float: a_in = round((W * x [+ bias]) * scale),
    fed as input currents (int) to neuron layer `dst` on steps 1..T.  bias goes to `dst`.
    kind "bias": no layer on the host and no currents; the static input x (B, *out_shape), integers,
    is added to `dst`'s bias mantissa per sample (lava-dl netx's input layer, whose input enters
    only through its neurons' bias: deploy/netx_read.py).
    kind "spikes": no layer on the host; input spikes or event counts x pass as currents x * scale
    times a per-copy gain (weight's diagonal, 1 / (2 j + 1)) into an input layer on the chip,
    out_shape[0] / in_shape[0] copies of the input whose copy j fires exactly when x >= j + 1
    (deploy/added_nodes.py spikes_on_chip), and the first real synapse
    runs on the chip: one spike per event.  No MACs on the host."""
    kind: str                 # "conv" | "dense" | "spikes" | "bias"
    weight: np.ndarray        # float64 (empty for "bias")
    stride: tuple
    padding: tuple
    in_shape: tuple
    out_shape: tuple
    scale: float              # a_in units per unit of float current
    dst: str
    bias: np.ndarray | None = None   # (C,) float added on the host (netx form); normally in `dst`
    first: np.ndarray | None = None  # int, out_shape: added to the first step's currents (a start potential)
    delay: int = 0                   # the currents of input frame t reach `dst` on step t + delay (zeros before)


@dataclass(frozen=True, eq=False)
class NeuronLayer:
    """Loihi LIF neurons (arrays per neuron, shape = `shape`): du, dv (12-bit), vth (17-bit),
    bias = bias_mant << bias_exp (13-bit mantissa, 3-bit exponent), in v units.
    reset_interval > 0: Lava's LIFReset, zeroing u and v before the update of every step whose
    Lava time_step (step index + 1) % reset_interval == reset_offset % reset_interval (lava-dl
    netx's Network(reset_interval, reset_offset)); 0: never."""
    shape: tuple
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    start: int                # depth: data first arrives on step start + 1; bias on from then
    scale: float              # v units per unit of float membrane potential (relays: 0)
    relay: bool = False
    source: str = ""
    reset_interval: int = 0
    reset_offset: int = 0


@dataclass(frozen=True, eq=False)
class SynapseLayer:
    """Integer synapses from neuron layer `src` to `dst` ("readout" for the output):
    a = (W @ spikes) << weight_exp (Dense; >> for negative) or conv(W, spikes) wrapped to
    24 bits (Conv, which ignores weight_exp); the spikes of step t arrive on step t + 1 + delay.
    "sparse" computes what "dense" does (Lava's Sparse: the same clip, truncation and weight_exp)
    but stores and visits only the nonzero weights of W (held here as the full matrix)."""
    kind: str                 # "conv" | "dense" | "sparse"
    src: str
    dst: str
    weight: np.ndarray        # int64, 8-bit range, already clipped and truncated as Lava would
    weight_exp: int
    stride: tuple
    padding: tuple
    in_shape: tuple
    out_shape: tuple
    source: str = ""
    delay: int = 0            # extra steps before delivery (not Conv: Lava's DelayDense, DelaySparse)


@dataclass(frozen=True, eq=False)
class Program:
    host: HostLayer
    neurons: dict             # name -> NeuronLayer, in topological order
    synapses: dict            # name -> SynapseLayer
    readout: tuple            # the synapse layers whose summed activations are the logits
    readout_scale: float      # logits = a / readout_scale + readout_bias
    readout_bias: np.ndarray
    timesteps: int
    depth: int                # logits of input step t leave the readout on step t + depth
    input_shape: tuple
    report: dict = field(default_factory=dict)
    readout_leak: np.ndarray | None = None   # (K,): a leaky-integrator readout (NIR's LI), on the host
    readout_gain: np.ndarray | None = None   # (K,)
    readout_rest: np.ndarray | None = None   # (K,): the LI's resting potential's input (dt/tau) v_leak per step

    def logits(self, readout: torch.Tensor) -> torch.Tensor:
        """Logits (T, B, K) float64 from the readout's integer activations (T, B, K): a / scale +
        bias, then, for an LI readout, v[t] = leak v[t-1] + gain (a[t] / scale + bias) in float on
        the host (the chip's synapses deliver a; the integrator is the host's)."""
        as_t = lambda a: torch.as_tensor(np.asarray(a, np.float64), device=readout.device)
        y = readout.double() / self.readout_scale + as_t(self.readout_bias)
        if self.readout_leak is None:
            return y
        leak, gain = (as_t(a) for a in (self.readout_leak, self.readout_gain))
        rest = 0.0 if self.readout_rest is None else as_t(self.readout_rest)
        v, out = torch.zeros_like(y[0]), []
        for t in range(len(y)):
            v = leak * v + gain * y[t] + rest
            out.append(v)
        return torch.stack(out)

    @property
    def steps(self) -> int:
        """Steps run per sample: T input steps plus the pipeline depth."""
        return self.timesteps + self.depth

    def inputs_of(self, name: str) -> list[str]:
        return [k for k, s in self.synapses.items() if s.dst == name]

    def outputs_of(self, name: str) -> list[str]:
        return [k for k, s in self.synapses.items() if s.src == name]

    def why_not_streamed(self) -> str | None:
        """None if samples can stream back to back through self-resetting neurons (each layer
        zeroes its u and v every T steps on its `start` step, deploy/lava_graph.py
        run_lava_stream) and read out per sample what one-at-a-time runs read out; else why not.
        A spike arriving on a layer's reset step is counted after the reset: on a feed-forward
        synapse that is the next sample's first input, on a recurrent one the previous sample's
        last spikes."""
        pulses = [s.src for s in self.synapses.values() if s.src == s.dst and self.neurons[s.src].relay]
        if pulses:
            return (f"the pulse layers that give a reset potential its start ({', '.join(pulses)}) fire once per "
                    f"run, not once per sample")
        rec = [n for n, s in self.synapses.items() if s.src == s.dst]
        if rec:
            return (f"recurrent synapse layers ({', '.join(rec)}) carry a sample's last spikes into the next "
                    f"sample's first step")
        # a NIR Delay (or a held-back bias) makes a synapse deliver past its target's window start
        late = [n for n, s in self.synapses.items()
                if self.neurons[s.src].start + 1 + s.delay != (self.depth if s.dst == "readout"
                                                               else self.neurons[s.dst].start)]
        return (f"delayed synapse layers ({', '.join(late)}) carry a sample's last steps into the next "
                f"sample's window") if late else None


def dense_ops(s) -> int:
    """MACs of one synaptic (or host) layer for one input frame (none for input spikes)."""
    if s.kind in ("spikes", "bias"):
        return 0
    return int(np.prod(s.out_shape)) * int(np.prod(s.weight.shape[1:]))
