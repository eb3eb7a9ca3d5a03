"""The paper's Table 4 ablation (LIF, +GC, +GC+PE, +GC+PE+SA, +TSRD) on digits-dvs, 3 seeds.

    python bench/ablation_staa.py [--epochs 20] [--seeds 0 1 2] [--out bench/results/ablation_digits_dvs]
    python bench/ablation_staa.py --probe --out bench/results/ablation_probe_digits_dvs

Every row trains the small digits net (T = 4) with the same recipe and seeds;
rows with attention use STAA-LIF (adaptive M, N on) with the named components,
the +TSRD row adds TSRD with beta = 0.1 (the paper's value for DVS data).
--probe runs the rows that look for why SA costs accuracy here (issue 15): the SA
gate rescaled to start near 1 (sa_scale 2), the attention parameters' learning
rate at 0.1x and 10x, and T = 8 against T = 4.
Prints a table of test accuracy, mean and standard deviation over seeds, and
writes it as JSON and Markdown beside --out.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from spikefold.models.config import ModelConfig
from spikefold.models.config import TrainConfig
from spikefold.models.train import train
from spikefold.common.cli import ArgumentParser, command, positive_int

ROWS = {   # name -> ModelConfig fields, and TrainConfig fields under "train"
    "LIF": dict(neuron="lif"),
    "+GC": dict(neuron="staa", gc=True, pe=False, sa=False),
    "+GC+PE": dict(neuron="staa", gc=True, pe=True, sa=False),
    "+GC+PE+SA": dict(neuron="staa", gc=True, pe=True, sa=True),
    "+GC+PE+SA+TSRD": dict(neuron="staa", gc=True, pe=True, sa=True, tsrd_beta=0.1),
}
STAA = dict(neuron="staa", gc=True, pe=True, sa=True)
PROBES = {
    "LIF": dict(neuron="lif"),
    "+GC+PE": dict(neuron="staa", gc=True, pe=True, sa=False),
    "+GC+PE+SA": STAA,
    "+GC+PE+SA, gate 2 sigmoid": dict(STAA, sa_scale=2.0),
    "+GC+PE+SA, attention lr x0.1": dict(STAA, train=dict(attention_lr=0.1)),
    "+GC+PE+SA, attention lr x10": dict(STAA, train=dict(attention_lr=10.0)),
    "LIF, T=8": dict(neuron="lif", timesteps=8),
    "+GC+PE+SA, T=8": dict(STAA, timesteps=8),
}


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="digits-dvs")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="bench/results/ablation_digits_dvs")
    p.add_argument("--probe", action="store_true", help="the SA investigation rows instead of Table 4's")
    a = p.parse_args(argv)
    rows = PROBES if a.probe else ROWS
    results = {}
    runs = [(row, seed) for row in rows for seed in a.seeds]
    with tempfile.TemporaryDirectory() as tmp:
        for row, seed in tqdm(runs, desc="ablation"):
            spec = dict(rows[row])
            train_fields = spec.pop("train", {})
            mcfg = ModelConfig(**{"arch": "digitnet", "in_channels": 2, "timesteps": 4, **spec})
            tcfg = TrainConfig(dataset=a.dataset, epochs=a.epochs, seed=seed, static_epochs=0, **train_fields)
            t0 = time.time()
            _, metrics = train(mcfg, tcfg, str(Path(tmp) / "ckpt.pt"), quiet=True)
            results.setdefault(row, []).append({"seed": seed, "test_acc": metrics["test_acc"],
                                                "seconds": time.time() - t0})
    base = statistics.mean(r["test_acc"] for r in results["LIF"])
    title = "SA probes" if a.probe else "Table 4 ablation"
    lines = [f"{title} on {a.dataset}, digitnet, T=4 unless named, {a.epochs} epochs, seeds {a.seeds}", "",
             "| components | test accuracy (%) mean ± std | gain vs LIF | per seed |",
             "|---|---|---|---|"]
    summary = {}
    for row, rs in results.items():
        accs = [r["test_acc"] for r in rs]
        mean, std = statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0
        summary[row] = {"mean": mean, "std": std, "runs": rs}
        lines.append(f"| {row} | {mean:.2f} ± {std:.2f} | {mean - base:+.2f} | "
                     f"{', '.join(f'{x:.2f}' for x in accs)} |")
    text = "\n".join(lines)
    print(text)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"dataset": a.dataset, "epochs": a.epochs,
                                                    "seeds": a.seeds, "rows": summary}, indent=2))
    out.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
