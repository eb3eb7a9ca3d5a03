"""Where the float network and the chip part ways: spike agreement per spiking layer.

For each neuron layer of the deployed program (relays aside), over every (step, sample, neuron)
of the T-step window:

    checkpoint_vs_folded   the checkpoint's spikes (its LIF module `source`) vs the folded float
                           graph's (the LIF node of the same name): what folding changed
    folded_vs_chip         the folded graph's spikes vs the chip's, the chip's taken at steps
                           start .. start + T - 1 of its full run (the layer's pipeline offset):
                           what quantisation changed

as % of positions that agree, summed over batches as integer counts (so merged processes equal
one), and the first layer, in the program's order, where either drops below THRESHOLD.
"""
from __future__ import annotations

import torch

from spikefold.chip.program import Program

THRESHOLD = 99.0
COMPARISONS = ("checkpoint_vs_folded", "folded_vs_chip")


class Divergence:
    """Accumulates agreement counts; `rows()` and `first_below()` give report.json's figures."""

    def __init__(self, program: Program):
        self.p = program
        self.layers = [n for n in sorted(program.neurons, key=lambda n: program.neurons[n].start)
                       if not program.neurons[n].relay]
        self.equal = {c: dict.fromkeys(self.layers, 0) for c in COMPARISONS}
        self.total = {c: dict.fromkeys(self.layers, 0) for c in COMPARISONS}

    def add(self, graph_spikes: dict, chip_spikes: dict, model_spikes: dict | None = None) -> None:
        """graph_spikes: LIF node -> (T, B, *shape); chip_spikes: layer -> (steps, B, *shape) (a
        full run's record); model_spikes: module path -> (T, B, ...) (None: no checkpoint)."""
        T = self.p.timesteps
        for name in self.layers:
            g = graph_spikes.get(name)
            if g is None:
                continue
            g = g.detach().cpu().bool()
            start = self.p.neurons[name].start
            self._count("folded_vs_chip", name, g, chip_spikes[name][start:start + T].bool())
            m = None if model_spikes is None else model_spikes.get(self.p.neurons[name].source)
            if m is not None:
                self._count("checkpoint_vs_folded", name, m.detach().cpu().bool().view_as(g), g)

    def _count(self, comparison: str, name: str, a: torch.Tensor, b: torch.Tensor) -> None:
        self.equal[comparison][name] += int((a == b.view_as(a)).sum())
        self.total[comparison][name] += a.numel()

    def state(self) -> dict:
        return {"equal": self.equal, "total": self.total}

    def merge(self, state: dict) -> None:
        for key in ("equal", "total"):
            for c, per in state[key].items():
                for name, v in per.items():
                    getattr(self, key)[c][name] += v

    def rows(self) -> list:
        """[{"layer", "neurons", comparison: % or None}] in the program's order."""
        out = []
        for name in self.layers:
            row = {"layer": name, "neurons": int(torch.tensor(self.p.neurons[name].shape).prod())}
            for c in COMPARISONS:
                t = self.total[c][name]
                row[c] = 100.0 * self.equal[c][name] / t if t else None
            out.append(row)
        return out

    def first_below(self, threshold: float = THRESHOLD) -> dict | None:
        """The first layer where an agreement drops below `threshold` %, and which; None if none."""
        for row in self.rows():
            for c in COMPARISONS:
                if row[c] is not None and row[c] < threshold:
                    return {"layer": row["layer"], "comparison": c, "agreement": row[c]}
        return None
