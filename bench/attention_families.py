"""Digits and digits-dvs accuracy of the four neuron families, side by side, 3 seeds.

    python bench/attention_families.py [--epochs 20] [--seeds 0 1 2] [--rows lif staa staa-dynamic fsta sma sma-authors]
                                       [--chip] [--out bench/results/attention_families]

lif (plain LIF), staa (STAA-LIF: GC, PE, SA, adaptive M/N, trained as models/train.py does by
default: --epochs with the paper's dynamic attention, then 10 static epochs with it frozen to the
fold's constants; its "dynamic" accuracy is the network before freezing, the paper's), staa-dynamic
(the same without the static phase: the paper's network, folded as it stands), fsta (FSTA + its reference LIF,
decay 0.25, threshold 0.5), sma (conv -> SMA -> BN -> LIF in the second of digitnet's three
conv units, the authors' placement scaled; models/sma.py) on digitnet, T = 4, with the same
recipe (models/train.py defaults: SGD, lr 0.1, CE) and seeds for every row; sma-authors is the
same SMA network with the authors' recipe (AdamW, lr 1e-4, weight decay 1e-3, cosine, MSE to
one-hot targets, ATan surrogate, detached reset).  Rows not re-run are kept from the JSON
already at --out.  Writes a Markdown table and JSON beside --out.

--chip also lowers each trained network (compile.pipeline.lower, calibrated on 256 training
inputs, no fine-tune), quantises it for Loihi (deploy/quantize.py) and runs the whole test split
through the bit-accurate simulator as deployed (simulate/engine.py, full mode, what Lava runs):
the folded network's float accuracy and the chip's, beside the checkpoint's.
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

from spikefold.compile.executor import GraphNet
from spikefold.compile.pipeline import lower
from spikefold.deploy.samples import Samples
from spikefold.deploy.quantize import quantize
from spikefold.models.config import ModelConfig
from spikefold.models.data import DATASETS, load_dataset
from spikefold.models.config import TrainConfig
from spikefold.models.train import train
from spikefold.simulate.engine import Simulator
from spikefold.common.cli import ArgumentParser, command, positive_int

ROWS = {
    "lif": ({"neuron": "lif"}, {}),
    "staa": ({"neuron": "staa"}, {}),
    "staa-dynamic": ({"neuron": "staa"}, {"static_epochs": 0}),
    "fsta": ({"neuron": "fsta"}, {}),
    "sma": ({"neuron": "sma"}, {}),
    "sma-authors": ({"neuron": "sma", "surrogate": "atan", "detach_reset": True},
                    {"optimizer": "adamw", "lr": 1e-4, "weight_decay": 1e-3, "loss": "mse"}),
}
DATASET_NAMES = ("digits", "digits-dvs")
CALIB = 256


def _split(dataset: str, train_split: bool, n: int | None = None):
    ds = load_dataset(dataset, None, train_split, 4)
    n = len(ds) if n is None else min(n, len(ds))
    return Samples(dataset=ds, n=n, name=dataset).batch(range(n))


def on_chip(model, dataset: str) -> dict:
    """Test accuracy (%) of `model` folded (float) and on the chip (Loihi fixed point, as deployed)."""
    x_cal, _ = _split(dataset, True, CALIB)
    graph = lower(model.eval(), tuple(x_cal.shape[-3:]), "calibrated", [x_cal])
    x, y = _split(dataset, False)
    with torch.no_grad():
        folded = GraphNet(graph).eval()(x).mean(0).argmax(1)
    chip = Simulator(quantize(graph)).run(x, mode="full").logits.mean(0).argmax(1)
    return {"folded_acc": 100 * float((folded == y).float().mean()), "chip_acc": 100 * float((chip == y).float().mean())}


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--chip", action="store_true", help="also fold, quantise and simulate each network on the chip")
    p.add_argument("--out", default="bench/results/attention_families")
    a = p.parse_args(argv)
    out = Path(a.out)
    kept = {}
    if out.with_suffix(".json").exists():
        old = json.loads(out.with_suffix(".json").read_text())
        if old.get("epochs") == a.epochs and old.get("seeds") == a.seeds:
            kept = {k: v for k, v in old["results"].items() if k not in a.rows}
    results = {}
    runs = [(d, r, s) for d in DATASET_NAMES for r in a.rows for s in a.seeds]
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, row, seed in tqdm(runs, desc="families"):
            model_kw, train_kw = ROWS[row]
            mcfg = ModelConfig(arch="digitnet", in_channels=DATASETS[dataset].channels, timesteps=4, **model_kw)
            t0 = time.time()
            model, m = train(mcfg, TrainConfig(dataset=dataset, epochs=a.epochs, seed=seed, **train_kw),
                             str(Path(tmp) / "ckpt.pt"), quiet=True)
            run = {"seed": seed, "test_acc": m["test_acc"], "dynamic_acc": m.get("dynamic_test_acc", m["test_acc"]),
                   "seconds": round(time.time() - t0, 1)}
            if a.chip:
                run.update(on_chip(model, dataset))
            results.setdefault(row, {}).setdefault(dataset, []).append(run)
    summary = dict(kept)
    for row, per in results.items():
        for dataset, rs in per.items():
            accs = [r["dynamic_acc"] for r in rs]
            summary.setdefault(row, {})[dataset] = {
                "mean": statistics.mean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "runs": rs}
    lines = [f"digitnet, T=4, {a.epochs} epochs, seeds {a.seeds}; test accuracy (%) of the network as its "
             f"recipe trains it (STAA: the dynamic attention, before the static phase) mean ± std "
             f"(per seed), seconds per run (staa: both phases)", "", "| row | " + " | ".join(DATASET_NAMES) + " |",
             "|---|" + "---|" * len(DATASET_NAMES)]
    for row in [r for r in ROWS if r in summary]:
        cells = []
        for dataset in DATASET_NAMES:
            s = summary[row][dataset]
            accs = [r.get("dynamic_acc", r["test_acc"]) for r in s["runs"]]
            secs = statistics.mean(r["seconds"] for r in s["runs"])
            cells.append(f"{s['mean']:.2f} ± {s['std']:.2f} ({', '.join(f'{x:.2f}' for x in accs)}), {secs:.0f} s")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    chip_rows = [r for r in ROWS if r in summary and all("chip_acc" in run for d in DATASET_NAMES
                                                           for run in summary[r][d]["runs"])]
    if chip_rows:
        lines += ["", f"Folded (calibrated on {CALIB} training inputs, no fine-tune) and on the chip (Loihi "
                      f"fixed point, bit-accurate simulator, as deployed): test accuracy (%) mean over the seeds, "
                      f"dynamic / checkpoint / folded / chip (dynamic: the network before STAA's static phase; "
                      f"the checkpoint is what was folded; both are the same network for every other row)", "",
                  "| row | " + " | ".join(DATASET_NAMES) + " |", "|---|" + "---|" * len(DATASET_NAMES)]
        for row in chip_rows:
            cells = []
            for dataset in DATASET_NAMES:
                runs = summary[row][dataset]["runs"]
                cells.append(" / ".join(f"{statistics.mean(r.get(k, r['test_acc']) for r in runs):.2f}"
                                        for k in ("dynamic_acc", "test_acc", "folded_acc", "chip_acc")))
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"epochs": a.epochs, "seeds": a.seeds,
                                                    "results": summary}, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
