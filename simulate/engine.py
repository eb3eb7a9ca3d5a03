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
targets), neuron updates and active ones, host MACs, u wraps, v saturations and
24-bit wraps of conv accumulators.  An update is active when the neuron receives
nonzero synaptic input on that step (its bias not counted).  Per layer also the spikes of each neuron
(summed over steps and batch), and per step the active updates and the synaptic
events each outgoing synapse layer carries: what the chip's time and routing
model (simulate/chip.py) needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from deploy.program import Program, SynapseLayer
from deploy.host import host_currents, host_macs
from deploy.weights import lava_weights
from deploy.constants import ACT_SHIFT, CONV_ACC_BITS, DU_MAX, INT32, UV_MAX, VTH_SHIFT
from simulate.lif_int import lif_step, lif_steps_current_free, wrap24, wrap32, wrap_signed

EXACT_F32 = 1 << 24


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
    spikes: dict = field(default_factory=dict)  # name -> (steps, B, *shape) bool (full mode, if recorded)
    counts: dict = field(default_factory=dict)


class Simulator:
    """mode="full": every layer for all T + depth steps of a chip run (what Lava does, spike for
    spike).  mode="window": each layer only for the T steps its data passes through it
    (steps start .. start + T - 1); before them it provably rests at zero, after them it can no
    longer reach the readout window, so logits are identical and counts are per inference."""

    def __init__(self, program: Program):
        self.p = program
        self.order = sorted(program.neurons, key=lambda n: program.neurons[n].start)
        self.params = {}
        for name, n in program.neurons.items():
            f = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)
            self.params[name] = {"du": f(n.du), "dv": f(n.dv), "vth64": f(n.vth) * (1 << VTH_SHIFT),
                                 "bias": f(n.bias_mant * (1 << n.bias_exp).astype(np.int64)),
                                 "current_free": bool(np.all(n.du == DU_MAX))}
        self.weights, self.fanout = {}, {}
        for name, s in program.synapses.items():
            w = lava_weights(s.weight) if s.kind == "dense" else s.weight  # what Dense does on step 1
            bound = np.abs(w).reshape(w.shape[0], -1).sum(1).max()
            dtype = torch.float32 if bound < EXACT_F32 else torch.float64
            self.weights[name] = torch.as_tensor(w, dtype=dtype)
            self.fanout[name] = fanout(s)

    def synapse(self, name: str, spikes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Activations (n, B, *out) (float64 integers) from spikes (n, B, *in); and the number of
        conv accumulators that wrapped to 24 bits."""
        s, w = self.p.synapses[name], self.weights[name]
        flat = spikes.reshape(-1, *s.in_shape).to(w.dtype)
        if s.kind == "conv":
            y = F.conv2d(flat, w, None, s.stride, s.padding).double()
            n_wrap = 0
            if y.numel() and float(y.abs().max()) >= UV_MAX:   # Lava's signed_clamp(bits=24): a modulo
                wrapped = wrap_signed(y, CONV_ACC_BITS)
                n_wrap, y = int((wrapped != y).sum()), wrapped
        else:
            y = (flat.flatten(1) @ w.T).double()
            e, n_wrap = s.weight_exp, 0
            y = y * (1 << e) if e >= 0 else torch.floor(y / (1 << -e))
        return y.view(*spikes.shape[:2], *s.out_shape), n_wrap

    @torch.no_grad()
    def run(self, x: torch.Tensor, record: bool = False, mode: str = "full") -> SimResult:
        if mode not in ("full", "window"):
            raise ValueError(f"mode must be 'full' or 'window' (got {mode!r})")
        p = self.p
        T, steps = p.timesteps, p.steps
        host = host_currents(p, x).double()
        B = host.shape[1]
        span = {n: (0, steps) if mode == "full" else (p.neurons[n].start, p.neurons[n].start + T)
                for n in self.order}
        span["readout"] = (p.depth, p.depth + T)
        spikes, counts = {}, {"layers": {}, "synapses": {}}
        incoming = {n: [] for n in span}    # dst -> [(first step, activations)]
        for name in self.order:
            n = p.neurons[name]
            lo, hi = span[name]
            parts = incoming.pop(name)
            if len(parts) == 1 and parts[0][0] == lo and len(parts[0][1]) == hi - lo:
                a = parts[0][1]                    # the common case: one input covering the span
            else:
                a = torch.zeros(hi - lo, B, *n.shape, dtype=torch.float64)
                if name == p.host.dst:
                    a[: T - lo] += host[lo:T]
                for first, y in parts:
                    a[first - lo: first - lo + len(y)] += y
            out = self._neurons(name, a, lo, counts)
            spikes[name] = out
            for syn in p.outputs_of(name):
                if p.synapses[syn].dst == name:      # recurrent: applied step by step in _neurons
                    continue
                dst, lag = p.synapses[syn].dst, 1 + p.synapses[syn].delay
                d_lo, d_hi = span[dst]
                s_lo, s_hi = max(lo, d_lo - lag), min(hi, d_hi - lag)   # source steps that reach dst
                y, n_wrap = self.synapse(syn, out[s_lo - lo: max(s_lo, s_hi) - lo])
                incoming[dst].append((s_lo + lag, y))
                counts["synapses"][syn] = {"conv_wraps": n_wrap}
        parts = incoming.pop("readout")
        assert all(first == p.depth and len(y) == T for first, y in parts)
        ro = sum(y for _, y in parts)
        logits = p.logits(ro)
        keys = ("spikes", "synaptic_events", "neuron_updates", "active_updates", "u_wraps", "v_saturations")
        tot = {k: sum(l[k] for l in counts["layers"].values()) for k in keys}
        tot["conv_wraps"] = sum(s["conv_wraps"] for s in counts["synapses"].values())
        tot["host_macs"] = host_macs(p, x)
        tot["samples"], tot["mode"] = B, mode
        counts["total"] = tot
        return SimResult(logits.float(), ro.round().to(torch.int64), spikes if record else {}, counts)

    def _neurons(self, name: str, a: torch.Tensor, lo: int, counts: dict) -> torch.Tensor:
        """Step one neuron layer through its span; a: (steps, B, *shape) input activations."""
        n, prm = self.p.neurons[name], self.params[name]
        steps = a.shape[0]
        bias_on = max(0, min(steps, n.start - lo))   # steps before `start` run without bias
        wraps = sats = 0
        rec = [k for k in self.p.inputs_of(name) if self.p.synapses[k].src == name]
        if prm["current_free"] and not rec:
            gain = 1 << ACT_SHIFT
            lo_a, hi_a = a.aminmax() if a.numel() else (a.new_zeros(()), a.new_zeros(()))
            if max(float(hi_a), -float(lo_a)) * gain > UV_MAX:
                c = wrap32(a * gain)
                wrapped = wrap24(c)
                wraps, c = int((wrapped != c).sum()), wrapped
                c[bias_on:] += prm["bias"]
            elif bias_on == 0:
                c = torch.add(prm["bias"], a, alpha=gain)    # one pass: a * 64 + bias
            else:
                c = a * gain
                c[bias_on:] += prm["bias"]
            # |v| grows by at most max|c| per step (the decay only shrinks it): clip only if needed
            if steps:
                lo_c, hi_c = c.flatten(1).aminmax(dim=1)
                per_step = torch.maximum(hi_c, -lo_c)
                bound, peak = float(per_step.sum()), float(per_step.max())
            else:
                bound = peak = 0.0
            out, sats = lif_steps_current_free(c, prm["dv"], prm["vth64"], bound > UV_MAX - 1,
                                               overflow=peak + UV_MAX >= INT32)
        else:
            u = torch.zeros(a.shape[1:], dtype=torch.float64)
            v = torch.zeros_like(u)
            out = torch.empty(a.shape, dtype=torch.bool)
            zero = torch.zeros_like(prm["bias"])
            conv_wraps = dict.fromkeys(rec, 0)
            for i in range(steps):
                a_i = a[i]
                for k in rec:                  # what the recurrent synapse delivers: last step's spikes
                    if i > 0:
                        y, n_wrap = self.synapse(k, out[i - 1: i])
                        a_i, conv_wraps[k] = a_i + y[0], conv_wraps[k] + n_wrap
                        a[i] = a_i                 # so the active count sees the recurrent input
                u, v, out[i], u_raw, v_raw = lif_step(u, v, a_i, prm["du"], prm["dv"],
                                                      prm["bias"] if i >= bias_on else zero, prm["vth64"])
                wraps += int((u_raw != u).sum())
                sats += int((v_raw.abs() > UV_MAX - 1).sum())
        for k in rec:
            counts["synapses"][k] = {"conv_wraps": conv_wraps[k]}
        size = int(np.prod(n.shape))
        per_step = out.view(steps, -1, size).sum(1, dtype=torch.float64)     # (steps, neurons)
        fired = per_step.sum(0)
        events = {s: per_step @ self.fanout[s].flatten() for s in self.p.outputs_of(name)}
        active = torch.count_nonzero(a.view(steps, -1), dim=1).double()
        counts["layers"][name] = {
            "neurons": size, "spikes": int(fired.sum()),
            "synaptic_events": sum(float(e.sum()) for e in events.values()),
            "neuron_updates": size * steps * a.shape[1], "active_updates": int(active.sum()),
            "u_wraps": wraps, "v_saturations": sats, "relay": n.relay,
            # for the chip's time and traffic (simulate/chip.py), over the steps of this run's span
            "fired": fired.view(n.shape), "active_per_step": active,
            "events_per_step": events}
        return out
