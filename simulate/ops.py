"""Operation counts of a fixed-point `Program`, per inference, under four conventions.

(a) paper (syops-counter, 45 nm): the host layer's dense MACs and every neuron update
    (their inputs are not spikes) as MACs, each T times; every spike-driven synaptic
    layer as dense ops x firing rate of its input x T, as ACs.
(b) effective (NeuroBench style): only nonzero input x nonzero weight pairs, respecting
    padding and stride: the host layer's over nonzero pixels (T times, like (a)),
    each synaptic layer's over the spikes that actually occurred; neuron updates as in (a).
(c) chip: what the simulator counted: synaptic events (spikes x real fan-out), neuron
    updates (active: nonzero synaptic input that step), and the host MACs it really
    spends (once per distinct input frame).
(d) ANN: the same layers as a non-spiking network: every layer's dense MACs, once.
Relay layers (identity synapses that delay shortcuts on the chip) exist only on the
chip and are left out of (a), (b) and (d).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from deploy.program import Program, SynapseLayer


def dense_ops(s) -> int:
    """MACs of one synaptic (or host) layer for one input frame."""
    return int(np.prod(s.out_shape)) * int(np.prod(s.weight.shape[1:]))


def effective_pairs(s: SynapseLayer, spikes: torch.Tensor) -> float:
    """Nonzero input x nonzero weight pairs of a synapse layer over spikes (steps, B, *in_shape)."""
    mask = torch.as_tensor(s.weight != 0, dtype=torch.float32)
    x = spikes.reshape(-1, *s.in_shape).float()
    if s.kind == "conv":
        return float(F.conv2d(x, mask, None, s.stride, s.padding).sum())
    return float((x.flatten(1) @ mask.T).sum())


def host_effective_pairs(program: Program, x: torch.Tensor) -> float:
    h = program.host
    mask = torch.as_tensor(h.weight != 0, dtype=torch.float32)
    frames = (x.unsqueeze(1) if x.dim() == 4 else x).flatten(0, 1)
    nz = (frames != 0).float()
    pairs = F.conv2d(nz, mask, None, h.stride, h.padding) if h.kind == "conv" else nz.flatten(1) @ mask.T
    per_step = float(pairs.sum()) / x.shape[0]
    return per_step * (program.timesteps if x.dim() == 4 else 1)


class OpsAccumulator:
    """Sums, over batches, what the four conventions need; `result()` gives per-inference counts."""

    def __init__(self, program: Program):
        self.p = program
        self.samples = 0
        self.spikes = {n: 0.0 for n in program.neurons}
        self.effective = 0.0
        self.host_effective = 0.0
        self.chip = {"synaptic_events": 0.0, "neuron_updates": 0.0, "active_updates": 0.0, "host_macs": 0.0}

    def add(self, x: torch.Tensor, sim_result) -> None:
        b = x.shape[0]
        self.samples += b
        for name, layer in sim_result.counts["layers"].items():
            self.spikes[name] += layer["spikes"]
        for k in self.chip:
            self.chip[k] += sim_result.counts["total"][k]
        for name, s in self.p.synapses.items():
            if not self._relay(s):
                self.effective += effective_pairs(s, sim_result.spikes[s.src])
        self.host_effective += host_effective_pairs(self.p, x) * b

    def _relay(self, s: SynapseLayer) -> bool:
        return self.p.neurons[s.src].relay or (s.dst in self.p.neurons and self.p.neurons[s.dst].relay)

    def rates(self) -> dict:
        """Firing rate of each neuron layer: spikes per neuron per step."""
        T = self.p.timesteps
        return {n: self.spikes[n] / (np.prod(l.shape) * T * max(self.samples, 1))
                for n, l in self.p.neurons.items()}

    def result(self) -> dict:
        p, T, n = self.p, self.p.timesteps, max(self.samples, 1)
        rates = self.rates()
        real = [s for s in p.synapses.values() if not self._relay(s)]
        relay_src = {s.dst: s.src for s in p.synapses.values() if s.dst in p.neurons and p.neurons[s.dst].relay}

        def origin(layer: str) -> str:           # the real layer behind a relay chain
            while layer in relay_src:
                layer = relay_src[layer]
            return layer

        neurons = sum(int(np.prod(l.shape)) for l in p.neurons.values() if not l.relay) * T
        host_macs = dense_ops(p.host) * T
        acs = sum(dense_ops(s) * rates[origin(s.src)] * T for s in real)
        ann = dense_ops(p.host) + sum(dense_ops(s) for s in real)
        chip = {k: v / n for k, v in self.chip.items()}
        return {
            "paper": {"macs": host_macs + neurons, "acs": acs, "host_macs": host_macs, "neuron_updates": neurons},
            "effective": {"macs": self.host_effective / n + neurons, "acs": self.effective / n},
            "chip": {**chip, "inactive_updates": chip["neuron_updates"] - chip["active_updates"]},
            "ann": {"macs": ann},
            "rates": rates,
        }
