"""The chip's operation counts per inference (convention (c)), from the fast simulator.

Two labelled variants of one deployed `Program` (relay layers included: they run on the chip):

    as deployed   what `deploy/to_lava.py` runs: each sample alone for T + depth steps, every
                  neuron updated on every step, state reset between samples (simulator mode
                  "full", spike for spike what Lava runs).
    streamed      samples back to back through self-resetting neurons, as lava-dl runs a test
                  set (deploy/lava_graph.py run_lava_stream: each layer zeroes its own u and v on
                  the step its sample's data reaches it; no host resets, no bias writes).  Each
                  layer's T-step windows tile its steps, so per sample the run is the simulator's
                  mode "window", spike for spike (tests/deploy/test_stream.py, in Lava); the
                  only steps in no window are each layer's first `start` and last
                  `depth - start` steps, the pipeline filling and draining once per stream (depth
                  steps for any number of samples), not counted.
                  Measured for a program that can stream; for one that cannot
                  (`Program.why_not_streamed`: recurrent or delayed synapses), the window counts are an
                  ideal the chip cannot run, labelled "assumed".
    host          the first layer, run on the host in float (its currents feed the chip):
                  dense MACs once per distinct input frame, the same in both variants.

The conventions on the network as built (syops, NeuroBench, ANN) are in simulate/counters/network.py.
"""
from __future__ import annotations

import numpy as np

from spikefold.chip.program import Program

CHIP_KEYS = ("synaptic_events", "neuron_updates", "active_updates", "spikes")


class ChipAccumulator:
    """Sums simulator counts over batches; `result()` gives per-inference figures."""

    def __init__(self, program: Program):
        self.p = program
        self.samples = 0
        self.sums = {v: dict.fromkeys(CHIP_KEYS, 0.0) for v in ("as_deployed", "streamed")}
        self.host_macs = 0.0
        # per variant, summed over samples: spikes per neuron, active updates per step and synaptic
        # events per step of each synapse layer (steps of the variant's own span; see chip/cost.py)
        self.fired = {v: {} for v in self.sums}
        self.active_per_step = {v: {} for v in self.sums}
        self.events_per_step = {v: {} for v in self.sums}

    def add(self, deployed) -> None:
        """deployed: the SimResult of a batch in mode "full", whose counts["window"] hold what
        mode "window" counts on the same batch (the streamed variant), computed in the same run."""
        assert deployed.counts["total"]["mode"] == "full"
        self.samples += deployed.counts["total"]["samples"]
        self.host_macs += deployed.counts["total"]["host_macs"]
        for variant, counts in (("as_deployed", deployed.counts), ("streamed", deployed.counts["window"])):
            for k in CHIP_KEYS:
                self.sums[variant][k] += counts["total"][k]
            for name, layer in counts["layers"].items():
                _add(self.fired[variant], name, layer["fired"])
                _add(self.active_per_step[variant], name, layer["active_per_step"])
                for syn, e in layer["events_per_step"].items():
                    _add(self.events_per_step[variant], syn, e)

    def state(self) -> dict:
        """What `merge` needs from an accumulator of another process (picklable)."""
        return {k: getattr(self, k) for k in ("samples", "sums", "host_macs", "fired", "active_per_step",
                                                "events_per_step")}

    def merge(self, state: dict) -> None:
        """Add another accumulator's sums (its `state()`): every figure is a sum of integers, exact
        in float64 in any order, so merged accumulators equal one that saw every batch."""
        self.samples += state["samples"]
        self.host_macs += state["host_macs"]
        for variant, sums in state["sums"].items():
            for k, v in sums.items():
                self.sums[variant][k] += v
            for key in ("fired", "active_per_step", "events_per_step"):
                for name, value in state[key][variant].items():
                    _add(getattr(self, key)[variant], name, value)

    def per_sample(self, variant: str) -> dict:
        """The variant's per-neuron and per-step figures divided by the samples seen (numpy)."""
        n = max(self.samples, 1)
        return {key: {k: v.numpy() / n for k, v in getattr(self, key)[variant].items()}
                for key in ("fired", "active_per_step", "events_per_step")}

    def rates(self) -> dict:
        """Firing rate of each neuron layer in its T-step window: spikes per neuron per step."""
        T, n = self.p.timesteps, max(self.samples, 1)
        return {name: float(self.fired["streamed"][name].sum()) / (np.prod(l.shape) * T * n)
                for name, l in self.p.neurons.items()}

    def mean_rate(self) -> float:
        """Spikes per neuron per step over every layer but the relays, in the T-step windows."""
        layers = [k for k, l in self.p.neurons.items() if not l.relay]
        spikes = sum(float(self.fired["streamed"][k].sum()) for k in layers)
        neurons = sum(float(np.prod(self.p.neurons[k].shape)) for k in layers)
        return spikes / max(1.0, neurons * self.p.timesteps * self.samples)

    def result(self) -> dict:
        n = max(self.samples, 1)
        out = {}
        for variant, sums in self.sums.items():
            per = {k: v / n for k, v in sums.items()}
            per["inactive_updates"] = per["neuron_updates"] - per["active_updates"]
            out[variant] = per
        out["as_deployed"]["steps"] = self.p.steps
        out["streamed"]["steps"] = self.p.timesteps
        why = self.p.why_not_streamed()
        out["streamed"]["run"] = "measured" if why is None else f"assumed: the program cannot stream ({why})"
        out["host_macs"] = self.host_macs / n
        out["rates"] = self.rates()
        return out


def _add(into: dict, key: str, value) -> None:
    into[key] = value.clone() if key not in into else into[key] + value
