"""Where STAA's folding loss comes from: each attention component folded alone, then all, then trained.

    python bench/staa_components.py [--epochs 20] [--static-epochs 10] [--seeds 0 1 2]
                                    [--out bench/results/staa_components]

For each dataset (digits, digits-dvs) and seed, a STAA digitnet (T = 4, GC, PE, SA, adaptive
M/N) is trained with the paper's dynamic attention (models/train.py, --static-epochs 0), its
attention measured on 256 training inputs (compile/calibrate.py, as compile/to_nir.py does), and
then, on the whole test split, against that dynamic network:

  GC         GC1's and GC2's context vectors replaced by their calibration means (the other
             components live): what fold_global_context does
  PE         Pos[t, c] replaced by its mean over t: fold_position_encoding
  SA         the gate replaced by its calibration mean: fold_step_attention
  GC+PE+SA   all three at once (compile.freeze, the same passes): the calibrated fold as it stands
  M/N        the remaining folds (adaptive M/N into leaks and weights, BatchNorm, pooling):
             the frozen network against its lowered graph (compile.pipeline.lower), exact
  deployable the frozen network trained --static-epochs more (models/train.py's default static
             phase, resumed from the dynamic checkpoint), and its lowered graph

Each row gives the test accuracy and the per-layer spike agreement (fraction of (t, sample,
neuron) spikes equal to the dynamic network's; for M/N and the deployable graph, to the frozen or
trained network's own).  Writes Markdown and JSON beside --out.
"""
from __future__ import annotations

import copy
import json
import statistics
import tempfile
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from spikefold.compile.calibrate import calibrate
from spikefold.compile.executor import GraphNet
from spikefold.compile.freeze import freeze_attention
from spikefold.compile.pipeline import lower
from spikefold.deploy.samples import Samples
from spikefold.models.config import ModelConfig
from spikefold.models.data import DATASETS, load_dataset
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.staa_lif import STAALIF
from spikefold.models.config import TrainConfig
from spikefold.models.data import seeded_subset
from spikefold.models.train import train
from spikefold.compile.measure import record_spikes
from spikefold.common.cli import ArgumentParser, command, nonneg_int, positive_int

DATASET_NAMES = ("digits", "digits-dvs")
CALIB = 256
ROWS = ("dynamic", "GC", "PE", "SA", "GC+PE+SA", "M/N", "deployable", "deployable graph")


class _Context(nn.Module):
    """GC with its context vector fixed: x + c (c per channel)."""

    def __init__(self, c):
        super().__init__()
        self.register_buffer("c", torch.as_tensor(c, dtype=torch.float32))

    def forward(self, x):
        return x + self.c.view(1, -1, *([1] * (x.dim() - 2)))


class _Gate(_Context):
    """SA with its gate fixed: u * g (g per channel)."""

    def forward(self, x):
        return x * self.c.view(1, -1, *([1] * (x.dim() - 2)))


def fold_one(model, stats: dict, part: str):
    """A copy of the dynamic `model` with one component replaced by its calibrated constant."""
    m = copy.deepcopy(model)
    for path, mod in m.named_modules():
        if not isinstance(mod, STAALIF):
            continue
        s = stats[path]
        if part == "GC":
            mod.gc_in, mod.gc_mem = _Context(s.c_in.mean(0)), _Context(s.c_mem.mean(0))
        elif part == "SA":
            mod.sa = _Gate(s.gate.mean(0))
        elif part == "PE":
            with torch.no_grad():
                mod.pos.copy_(mod.pos.mean(0, keepdim=True).expand_as(mod.pos))
    return m.eval()


def measure(net, x, y, ref: dict | None, graph=None) -> dict:
    """Accuracy (%) of `net` (a model, or a GraphNet when graph is given) and its per-layer spike
    agreement with `ref` ({module path: spikes})."""
    with torch.no_grad():
        if graph is None:
            logits, spikes = record_spikes(net, x)
        else:
            logits = net(x, record=True)
            spikes = {graph.nodes[n].source: s for n, (s, _) in net.record.items()}
    acc = 100.0 * float((logits.mean(0).argmax(1) == y).float().mean())
    agree = {k: float((spikes[k] == ref[k].view_as(spikes[k])).float().mean()) for k in ref} if ref else {}
    return {"accuracy": acc, "agreement": agree}


def one_run(dataset: str, seed: int, epochs: int, static_epochs: int, tmp: Path) -> dict:
    info = DATASETS[dataset]
    mcfg = ModelConfig(arch="digitnet", neuron="staa", in_channels=info.channels, timesteps=4)
    ckpt = tmp / f"{dataset}{seed}.pt"
    train(mcfg, TrainConfig(dataset=dataset, epochs=epochs, static_epochs=0, seed=seed), str(ckpt), quiet=True)
    model, _ = model_from_checkpoint(ckpt)
    train_set = load_dataset(dataset, None, True, 4)
    calib, _ = Samples(dataset=seeded_subset(train_set, CALIB), n=CALIB, name=dataset).batch(range(CALIB))
    test = load_dataset(dataset, None, False, 4)
    x, y = Samples(dataset=test, n=len(test), name=dataset).batch(range(len(test)))
    shape = tuple(x.shape[-3:])

    rows = {}
    with torch.no_grad():
        _, ref = record_spikes(model.eval(), x)
    rows["dynamic"] = measure(model, x, y, ref)
    stats = calibrate(model, [calib], 4, quiet=True)
    for part in ("GC", "PE", "SA"):
        rows[part] = measure(fold_one(model, stats, part), x, y, ref)
    frozen = copy.deepcopy(model)
    freeze_attention(frozen, [calib])
    rows["GC+PE+SA"] = measure(frozen.eval(), x, y, ref)
    _, frozen_spikes = record_spikes(frozen, x)
    graph = lower(frozen, shape, "none")
    rows["M/N"] = measure(GraphNet(graph).eval(), x, y, frozen_spikes, graph)

    deployed = tmp / f"{dataset}{seed}.static.pt"
    train(mcfg, TrainConfig(dataset=dataset, epochs=epochs, static_epochs=static_epochs, seed=seed),
          str(deployed), resume=str(ckpt), quiet=True)
    trained, _ = model_from_checkpoint(deployed)
    rows["deployable"] = measure(trained.eval(), x, y, ref)
    _, trained_spikes = record_spikes(trained, x)
    graph = lower(trained, shape, "none")
    rows["deployable graph"] = measure(GraphNet(graph).eval(), x, y, trained_spikes, graph)
    return rows


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--static-epochs", type=nonneg_int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="bench/results/staa_components")
    a = p.parse_args(argv)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, seed in tqdm([(d, s) for d in DATASET_NAMES for s in a.seeds], desc="staa components"):
            runs.setdefault(dataset, {})[seed] = one_run(dataset, seed, a.epochs, a.static_epochs, Path(tmp))
    summary = {d: {row: {"accuracy": statistics.mean(runs[d][s][row]["accuracy"] for s in a.seeds),
                         "accuracy_per_seed": [runs[d][s][row]["accuracy"] for s in a.seeds],
                         "agreement": {layer: statistics.mean(runs[d][s][row]["agreement"][layer] for s in a.seeds)
                                       for layer in runs[d][a.seeds[0]][row]["agreement"]}}
                   for row in ROWS} for d in DATASET_NAMES}
    lines = [f"STAA digitnet, T=4, {a.epochs} dynamic epochs (+ {a.static_epochs} static for the deployable rows), "
             f"seeds {a.seeds}, calibrated on {CALIB} training inputs; whole test splits.", "",
             "Test accuracy (%), mean over seeds (per seed), and its change from the dynamic network:", "",
             "| folded | " + " | ".join(DATASET_NAMES) + " |", "|---|" + "---|" * len(DATASET_NAMES)]
    for row in ROWS:
        cells = []
        for d in DATASET_NAMES:
            s, base = summary[d][row], summary[d]["dynamic"]["accuracy"]
            seeds = ", ".join(f"{v:.2f}" for v in s["accuracy_per_seed"])
            cells.append(f"{s['accuracy']:.2f} ({seeds})" + ("" if row == "dynamic" else
                                                              f", {s['accuracy'] - base:+.2f}"))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", "Spike agreement per layer (%), mean over seeds: GC, PE, SA, GC+PE+SA and deployable against "
                  "the dynamic network; M/N against the frozen network, deployable graph against the deployable "
                  "network (their own exact folds)", ""]
    for d in DATASET_NAMES:
        layers = list(summary[d]["GC"]["agreement"])
        lines += [f"{d}:", "", "| folded | " + " | ".join(layers) + " |", "|---|" + "---|" * len(layers)]
        for row in ROWS[1:]:
            ag = summary[d][row]["agreement"]
            lines.append(f"| {row} | " + " | ".join(f"{100 * ag[k]:.2f}" for k in layers) + " |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"epochs": a.epochs, "static_epochs": a.static_epochs,
                                                    "seeds": a.seeds, "calibration_samples": CALIB,
                                                    "summary": summary, "runs": runs}, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
