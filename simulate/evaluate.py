"""One pass over the samples: the float network, the folded graph and the chip, batch by batch.

`evaluate` runs each batch once through every network it is given (the checkpoint's PyTorch
model, if any, with syops/NeuroBench counting hooks; the NIR graph in spikefold's float
executor; the deployed program on the fast simulator in mode "full", spike for spike what
Lava runs) and keeps what the report needs: predictions per network, float spike sums per
layer, the chip's counts as deployed and streamed (chip/counts.py: the streamed variant comes
from the same full run, each layer's own T-step window) and the overflow counts.  Under
torchrun each process takes its share of the batches and rank 0 receives the merged sums
(every figure is a sum of integers, so the merge equals one process that saw everything).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from spikefold.chip.counts import ChipAccumulator
from spikefold.chip.program import Program
from spikefold.common import distributed, validate
from spikefold.compile.executor import GraphNet
from spikefold.compile.graph import Graph
from spikefold.compile.measure import record_spikes
from spikefold.simulate.counters.network import Counter
from spikefold.simulate.divergence import Divergence
from spikefold.simulate.engine import Simulator

OVERFLOW = ("u_wraps", "v_saturations", "conv_wraps", "host_saturations")


@dataclass
class Evaluation:
    """What one pass over `n` samples measured.  preds: network -> (n,) int64 predictions
    ("float" and "folded" with a model, "float graph" without; "chip" always); labels (n,) or
    None; float_spikes: layer -> spikes summed over samples, steps and neurons (the model's
    module paths with a model, the graph's LIF nodes without); chip: the chip's counts;
    counter: the network-as-built counts (None without a model); overflow: OVERFLOW -> count;
    divergence: spike agreement per layer (checkpoint, folded graph, chip)."""
    n: int
    preds: dict
    labels: torch.Tensor | None
    float_spikes: dict
    chip: ChipAccumulator
    divergence: Divergence | None          # None: no float network (a netx program)
    counter: Counter | None = None
    overflow: dict = field(default_factory=lambda: dict.fromkeys(OVERFLOW, 0))

    def accuracy(self) -> dict | None:
        """network -> % of labels predicted (None without labels)."""
        if self.labels is None:
            return None
        return {k: 100.0 * float((v == self.labels).float().mean()) for k, v in self.preds.items()}

    def agreement(self, a: str, b: str) -> float:
        """% of samples on which networks a and b predict the same class."""
        return 100.0 * float((self.preds[a] == self.preds[b]).float().mean())


def evaluate(graph: Graph | None, program: Program, samples, model: torch.nn.Module | None = None,
             batch_size: int = 128, device: str | torch.device = "cpu", quiet: bool = True,
             rank: int = 0, world: int = 1, max_work_mb: float = validate.MAX_WORK_MB) -> Evaluation | None:
    """Run `samples` (simulate.samples.Samples: .batch(range) -> (x, y or None), len, .labelled)
    through `model` (optional), `graph` and `program`, `batch_size` at a time.  None on a rank
    other than 0 under torchrun.  InputError, before any batch is read, for no samples or a single
    sample that would hold more than `max_work_mb` MiB (batches are cut to fit it).  graph None: a
    program with no float network beside it (a lava-dl netx file's), the chip alone, predicting as
    lava-dl does (argmax of the readout summed over every step), no divergence."""
    device = torch.device(device)
    folded = GraphNet(graph).eval().to(device) if graph is not None else None
    sim, chip = Simulator(program, device), ChipAccumulator(program)
    samples.require_some()
    batch_size = sim.fit_batch(min(batch_size, len(samples)), max_work_mb)
    divergence = Divergence(program) if graph is not None else None
    counter = None
    if model is not None:
        model.to(device)
        counter = Counter(model, model.cfg.timesteps)
    per_batch, float_spikes, overflow = {}, {}, dict.fromkeys(OVERFLOW, 0)
    try:
        for k, idx in tqdm(distributed.batches(len(samples), batch_size, rank, world), desc="simulate",
                           disable=quiet, leave=False):
            x, y = samples.batch(idx)
            x = x.to(device)
            deployed = sim.run(x, mode="full", record=folded is not None)    # what Lava runs, spike for spike
            if folded is None:
                per_batch[k] = {"chip": deployed.readout.sum(0).argmax(1), "labels": y}
            else:
                preds, graph_spikes, model_spikes = _float_predictions(model, folded, x, float_spikes)
                divergence.add(graph_spikes, deployed.spikes, model_spikes)
                per_batch[k] = {**preds, "chip": deployed.logits.mean(0).argmax(1), "labels": y}
            chip.add(deployed)
            for key in OVERFLOW:
                overflow[key] += deployed.counts["total"][key]
    finally:
        if counter is not None:
            counter.close()
    if not _gather(world, per_batch, float_spikes, chip, counter, overflow, divergence):
        return None
    order = sorted(per_batch)
    names = [v for v in per_batch[order[0]] if v != "labels"] if order else ["chip"]
    preds = {v: torch.cat([per_batch[k][v] for k in order]) if order else torch.zeros(0, dtype=torch.int64)
             for v in names}
    labels = torch.cat([per_batch[k]["labels"] for k in order]) if samples.labelled and order else None
    return Evaluation(len(samples), preds, labels, float_spikes, chip, divergence, counter, overflow)


def _float_predictions(model, folded: GraphNet, x: torch.Tensor, float_spikes: dict) -> tuple:
    """(predictions, graph spikes, model spikes or None) of the float networks on batch x: with a
    model, "float" (the model, whose forward also feeds the counting hooks; its spikes summed
    into float_spikes) and "folded" (the graph); without, "float graph" (the graph, its LIF
    nodes' spikes summed into float_spikes)."""
    with torch.no_grad():
        fold_pred = folded(x, record=True).mean(0).argmax(1).cpu()
    graph_spikes = {name: s for name, (s, _) in folded.record.items()}
    if model is not None:
        logits, spk = record_spikes(model, x)       # one float forward: predictions, rates, counts
        _add_spikes(float_spikes, spk)
        return {"float": logits.mean(0).argmax(1).cpu(), "folded": fold_pred}, graph_spikes, spk
    _add_spikes(float_spikes, graph_spikes)
    return {"float graph": fold_pred}, graph_spikes, None


def _add_spikes(into: dict, spikes: dict) -> None:
    for name, s in spikes.items():
        into[name] = into.get(name, 0.0) + float(s.sum())


def _gather(world: int, per_batch: dict, float_spikes: dict, chip: ChipAccumulator,
            counter: Counter | None, overflow: dict, divergence: Divergence | None) -> bool:
    """Under torchrun, every rank's results merged into rank 0's objects, in place: predictions by
    batch number, float spike sums, chip and network counts, overflow counts (all sums of integers
    or exact fractions, so the merge is the single process's result).  False on other ranks."""
    states = distributed.gather({"batches": per_batch, "float_spikes": float_spikes, "chip": chip.state(),
                                 "counter": counter and counter.state(), "overflow": overflow,
                                 "divergence": divergence and divergence.state()}, world)
    if states is None:
        return False
    for st in states[1:]:
        per_batch.update(st["batches"])
        chip.merge(st["chip"])
        for name, v in st["float_spikes"].items():
            float_spikes[name] = float_spikes.get(name, 0.0) + v
        if counter is not None:
            counter.merge(st["counter"])
        for key in overflow:
            overflow[key] += st["overflow"][key]
        if divergence is not None:
            divergence.merge(st["divergence"])
    return True
