"""The fast chip simulator: a `deploy.program.Program` on a batch, spike for spike as Lava runs it.

Equivalent to stepping Lava's LoihiProtocol (every synapse delivers on step t
what it computed from the spikes of step t - 1), but organised layer by layer:
the network is feed-forward, so each synapse layer is applied once to the spikes
of all steps and all samples (one batched conv or matmul), and each neuron layer
then steps through time with the integer LIF step of `simulate.lif_int`, all
neurons at once.  Integer weights times 0/1 spikes are summed in float32 where
no sum can reach 2**24 and in float64 otherwise, so the sums are exact.

Counts (per layer and in total, over the batch): spikes, synaptic events (each
spike times its real fan-out, border positions of a padded conv reaching fewer
targets), neuron updates and active ones (nonzero input, state or bias), host
MACs, u wraps, v saturations and 24-bit wraps of conv accumulators.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from deploy.program import Program, SynapseLayer
from simulate.lif_int import lif_step
from models.layers import encode_input

EXACT_F32 = 1 << 24


def host_currents(program: Program, x: torch.Tensor) -> torch.Tensor:
    """Integer input currents (T, B, *shape) of the host layer for inputs x (B, C, H, W) or frames
    (B, T, C, H, W): round(W * x * scale), computed once per distinct input frame."""
    h = program.host
    frames = x.unsqueeze(1) if x.dim() == 4 else x
    flat = frames.reshape(-1, *frames.shape[2:]).double()
    w = torch.as_tensor(h.weight, dtype=torch.float64)
    cur = F.conv2d(flat, w, None, h.stride, h.padding) if h.kind == "conv" else flat.flatten(1) @ w.T
    a = torch.round(cur * h.scale).to(torch.int64).view(frames.shape[0], frames.shape[1], *h.out_shape)
    return encode_input(a, program.timesteps) if x.dim() == 4 else a.transpose(0, 1)


def host_macs(program: Program, x: torch.Tensor) -> int:
    """Multiply-accumulates the host layer spends on x (once per distinct frame)."""
    h = program.host
    per = int(np.prod(h.out_shape)) * int(np.prod(h.weight.shape[1:]))
    return per * x.shape[0] * (1 if x.dim() == 4 else x.shape[1])


def fanout(s: SynapseLayer) -> torch.Tensor:
    """Number of synapses leaving each source neuron, shape in_shape (structural: zero weights count)."""
    if s.kind == "dense":
        return torch.full(s.in_shape, float(s.weight.shape[0]), dtype=torch.float64)
    ones = torch.ones(1, *s.out_shape, dtype=torch.float64)
    k = torch.ones(s.weight.shape, dtype=torch.float64)
    back = F.conv_transpose2d(ones, k, None, s.stride, s.padding,
                              output_padding=_output_padding(s))
    return back[0]


def _output_padding(s: SynapseLayer) -> tuple:
    out = []
    for i in range(2):
        size = (s.out_shape[i + 1] - 1) * s.stride[i] - 2 * s.padding[i] + s.weight.shape[i + 2]
        out.append(s.in_shape[i + 1] - size)
    return tuple(out)


@dataclass
class SimResult:
    logits: torch.Tensor                      # (T, B, K) float: a / readout_scale + bias
    readout: torch.Tensor                     # (T, B, K) int64: what the readout synapse delivered
    spikes: dict = field(default_factory=dict)  # name -> (steps, B, *shape) bool, if recorded
    counts: dict = field(default_factory=dict)


class Simulator:
    def __init__(self, program: Program):
        self.p = program
        self.order = sorted(program.neurons, key=lambda n: program.neurons[n].start)
        self.params = {}
        for name, n in program.neurons.items():
            t = {k: torch.as_tensor(getattr(n, k), dtype=torch.int64)
                 for k in ("du", "dv", "vth", "bias_mant", "bias_exp")}
            t["bias"] = t.pop("bias_mant") << t.pop("bias_exp")
            self.params[name] = t
        self.weights, self.fanout = {}, {}
        for name, s in program.synapses.items():
            bound = np.abs(s.weight).reshape(s.weight.shape[0], -1).sum(1).max()
            dtype = torch.float32 if bound < EXACT_F32 else torch.float64
            self.weights[name] = torch.as_tensor(s.weight, dtype=dtype)
            self.fanout[name] = fanout(s)

    def _synapse(self, name: str, spikes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Activations (steps, B, *out) int64 a synapse layer computes from spikes (steps, B, *in)."""
        s, w = self.p.synapses[name], self.weights[name]
        flat = spikes.reshape(-1, *s.in_shape).to(w.dtype)
        if s.kind == "conv":
            y = torch.round(F.conv2d(flat, w, None, s.stride, s.padding)).to(torch.int64)
            wrapped = (y + (1 << 23)) % (1 << 24) - (1 << 23)   # Lava's signed_clamp(bits=24)
            n_wrap = int((wrapped != y).sum())
            y = wrapped
        else:
            y = torch.round(flat.flatten(1) @ w.T).to(torch.int64)
            e = s.weight_exp
            y = y << e if e > 0 else y >> -e
            n_wrap = 0
        return y.view(*spikes.shape[:2], *s.out_shape), n_wrap

    @torch.no_grad()
    def run(self, x: torch.Tensor, record: bool = False) -> SimResult:
        p = self.p
        steps = p.steps
        host = host_currents(p, x)
        B = host.shape[1]
        spikes, counts = {}, {"layers": {}, "synapses": {}}
        delivered = {}            # synapse -> (steps, B, *out): what reaches its target on step t
        for name in self.order:
            n, prm = p.neurons[name], self.params[name]
            a = torch.zeros(steps, B, *n.shape, dtype=torch.int64)
            if name == p.host.dst:
                a[: p.timesteps] = host
            for syn in p.inputs_of(name):
                a += delivered.pop(syn)
            u = torch.zeros(B, *n.shape, dtype=torch.int64)
            v = torch.zeros_like(u)
            zero = torch.zeros_like(prm["bias"])
            out = torch.zeros(steps, B, *n.shape, dtype=torch.bool)
            wraps = sats = active = 0
            for t in range(steps):   # t = 0 is Lava's step 1
                bias = prm["bias"] if t >= n.start else zero
                active += int(((a[t] != 0) | (v != 0) | (bias != 0)).sum())
                u, v, out[t], w_, s_ = lif_step(u, v, a[t], prm["du"], prm["dv"], bias, prm["vth"])
                wraps, sats = wraps + w_, sats + s_
            spikes[name] = out
            fired = out.sum(dim=(0, 1), dtype=torch.float64)
            events = sum(float((fired * self.fanout[s]).sum()) for s in p.outputs_of(name))
            counts["layers"][name] = {"neurons": int(np.prod(n.shape)), "spikes": int(fired.sum()),
                                      "synaptic_events": events, "neuron_updates": int(np.prod(n.shape)) * steps * B,
                                      "active_updates": active, "u_wraps": wraps, "v_saturations": sats,
                                      "relay": n.relay}
            for syn in p.outputs_of(name):
                y, n_wrap = self._synapse(syn, out[:-1])
                d = torch.zeros(steps, *y.shape[1:], dtype=torch.int64)
                d[1:] = y                                   # one step of latency
                delivered[syn] = d
                counts["synapses"][syn] = {"conv_wraps": n_wrap}
        ro = delivered.pop(p.readout)[p.depth: p.depth + p.timesteps]
        logits = ro.double() / p.readout_scale + torch.as_tensor(p.readout_bias)
        tot = {k: sum(l[k] for l in counts["layers"].values())
               for k in ("spikes", "synaptic_events", "neuron_updates", "active_updates", "u_wraps",
                         "v_saturations")}
        tot["conv_wraps"] = sum(s["conv_wraps"] for s in counts["synapses"].values())
        tot["host_macs"] = host_macs(p, x)
        tot["samples"] = B
        counts["total"] = tot
        return SimResult(logits.float(), ro, spikes if record else {}, counts)
