"""Digits and digits-dvs accuracy of the four neuron families, side by side, 3 seeds.

    python bench/attention_families.py [--epochs 20] [--seeds 0 1 2] [--out bench/results/attention_families]

lif (plain LIF), staa (STAA-LIF: GC, PE, SA, adaptive M/N), fsta (FSTA + its reference
LIF, decay 0.25, threshold 0.5), sma (LIF -> SMA branches with AZO) on digitnet, T = 4,
the same recipe (models/train.py defaults) and seeds for every row.  Writes a Markdown
table and JSON beside --out.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from models.config import ModelConfig
from models.data import DATASETS
from models.train import TrainConfig, train

NEURONS = ("lif", "staa", "fsta", "sma")
DATASET_NAMES = ("digits", "digits-dvs")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--neurons", nargs="+", default=list(NEURONS))
    p.add_argument("--out", default="bench/results/attention_families")
    a = p.parse_args(argv)
    results = {}
    runs = [(d, n, s) for d in DATASET_NAMES for n in a.neurons for s in a.seeds]
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, neuron, seed in tqdm(runs, desc="families"):
            mcfg = ModelConfig(arch="digitnet", neuron=neuron, in_channels=DATASETS[dataset].channels,
                               timesteps=4)
            t0 = time.time()
            _, m = train(mcfg, TrainConfig(dataset=dataset, epochs=a.epochs, seed=seed),
                         str(Path(tmp) / "ckpt.pt"), quiet=True)
            results.setdefault(dataset, {}).setdefault(neuron, []).append(
                {"seed": seed, "test_acc": m["test_acc"], "seconds": round(time.time() - t0, 1)})
    lines = [f"digitnet, T=4, {a.epochs} epochs, seeds {a.seeds}; test accuracy (%) mean ± std "
             f"(per seed), seconds per run", "", "| neuron | " + " | ".join(DATASET_NAMES) + " |",
             "|---|" + "---|" * len(DATASET_NAMES)]
    summary = {}
    for neuron in a.neurons:
        cells = []
        for dataset in DATASET_NAMES:
            rs = results[dataset][neuron]
            accs = [r["test_acc"] for r in rs]
            mean, std = statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0
            secs = statistics.mean(r["seconds"] for r in rs)
            summary.setdefault(neuron, {})[dataset] = {"mean": mean, "std": std, "runs": rs}
            cells.append(f"{mean:.2f} ± {std:.2f} ({', '.join(f'{x:.2f}' for x in accs)}), {secs:.0f} s")
        lines.append(f"| {neuron} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"epochs": a.epochs, "seeds": a.seeds,
                                                    "results": summary}, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
