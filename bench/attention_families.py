"""Accuracy of the four neuron families side by side, 3 seeds, on digits and digits-dvs (or any
datasets), with the chip's figures for each trained network.

    python bench/attention_families.py [--epochs 20] [--seeds 0 1 2] [--rows lif staa staa-dynamic fsta sma sma-authors]
                                       [--datasets digits digits-dvs] [--arch digitnet] [--timesteps 4]
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
inputs, no fine-tune), quantises it for Loihi (deploy/quantize.py; event-count inputs enter the
chip as one spike per event, deploy/samples.py inputs_on_chip) and runs the whole test split
through the bit-accurate simulator as deployed (simulate/engine.py, full mode, what Lava runs):
the folded network's float accuracy and the chip's, beside the checkpoint's, and the chip's
mean firing rate, placement (cores and chips) and time and energy per inference on Loihi and
Loihi 2, as deployed and streamed (chip/placement.py, chip/cost.py).
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
from spikefold.chip.cost import VARIANTS, ChipModel
from spikefold.chip.counts import ChipAccumulator
from spikefold.chip.hardware import PROFILES
from spikefold.chip.placement import map_program
from spikefold.deploy.samples import Samples, inputs_on_chip
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


def _split(dataset: str, train_split: bool, timesteps: int, n: int | None = None):
    ds = load_dataset(dataset, None, train_split, timesteps)
    n = len(ds) if n is None else min(n, len(ds))
    return Samples(dataset=ds, n=n, name=dataset).batch(range(n))


def on_chip(model, dataset: str, timesteps: int) -> dict:
    """Test accuracy (%) of `model` folded (float) and on the chip (Loihi fixed point, as
    deployed); the chip's mean firing rate, host MACs, and per profile its cores, chips and time
    (us) and energy (uJ) per inference as deployed and streamed."""
    x_cal, _ = _split(dataset, True, timesteps, CALIB)
    graph = lower(model.eval(), tuple(x_cal.shape[-3:]), "calibrated", [x_cal])
    x, y = _split(dataset, False, timesteps)
    samples = Samples(x, y, name=dataset)
    graph = inputs_on_chip(graph, samples)
    program = quantize(graph)
    sim, acc, folded, chip = Simulator(program), ChipAccumulator(program), [], []
    for i in range(0, len(x), 100):
        with torch.no_grad():
            folded.append(GraphNet(graph).eval()(x[i:i + 100]).mean(0).argmax(1))
        r = sim.run(x[i:i + 100], mode="full")
        acc.add(r)
        chip.append(r.logits.mean(0).argmax(1))
    folded, chip = torch.cat(folded), torch.cat(chip)
    out = {"folded_acc": 100 * float((folded == y).float().mean()), "chip_acc": 100 * float((chip == y).float().mean()),
           "rate": acc.mean_rate(), "host_macs": acc.result()["host_macs"]}
    for name in ("loihi", "loihi2"):
        m = map_program(program, PROFILES[name])
        priced = ChipModel(program, m, acc)
        out[name] = {"cores": len(m.cores), "chips": m.chips, **{
            v: {"us": priced.cost(v)["time_ns"] / 1e3, "uj": priced.cost(v)["pj"] / 1e6} for v in VARIANTS}}
    return out


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--datasets", nargs="+", default=list(DATASET_NAMES), choices=list(DATASETS))
    p.add_argument("--arch", default="digitnet")
    p.add_argument("--timesteps", type=positive_int, default=4)
    p.add_argument("--chip", action="store_true", help="also fold, quantise and simulate each network on the chip")
    p.add_argument("--out", default="bench/results/attention_families")
    a = p.parse_args(argv)
    out = Path(a.out)
    kept = {}
    if out.with_suffix(".json").exists():
        old = json.loads(out.with_suffix(".json").read_text())
        if (old.get("epochs"), old.get("seeds"), old.get("datasets", list(DATASET_NAMES)), old.get("arch", "digitnet"),
                old.get("timesteps", 4)) == (a.epochs, a.seeds, a.datasets, a.arch, a.timesteps):
            kept = {k: v for k, v in old["results"].items() if k not in a.rows}
    results = {}
    names = a.datasets
    runs = [(d, r, s) for d in names for r in a.rows for s in a.seeds]
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, row, seed in tqdm(runs, desc="families"):
            model_kw, train_kw = ROWS[row]
            mcfg = ModelConfig(arch=a.arch, in_channels=DATASETS[dataset].channels, input_size=DATASETS[dataset].size,
                               num_classes=DATASETS[dataset].classes, timesteps=a.timesteps, **model_kw)
            t0 = time.time()
            model, m = train(mcfg, TrainConfig(dataset=dataset, epochs=a.epochs, seed=seed, **train_kw),
                             str(Path(tmp) / "ckpt.pt"), quiet=True)
            run = {"seed": seed, "test_acc": m["test_acc"], "dynamic_acc": m.get("dynamic_test_acc", m["test_acc"]),
                   "seconds": round(time.time() - t0, 1)}
            if a.chip:
                try:
                    run.update(on_chip(model, dataset, a.timesteps))
                except ValueError as e:              # the fold refuses this network: say so in its row
                    run["chip_refused"] = str(e).splitlines()[0]
            results.setdefault(row, {}).setdefault(dataset, []).append(run)
    summary = dict(kept)
    for row, per in results.items():
        for dataset, rs in per.items():
            accs = [r["dynamic_acc"] for r in rs]
            summary.setdefault(row, {})[dataset] = {
                "mean": statistics.mean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "runs": rs}
    lines = [f"{a.arch}, T={a.timesteps}, {a.epochs} epochs, seeds {a.seeds}; test accuracy (%) of the network as "
             f"its recipe trains it (STAA: the dynamic attention, before the static phase) mean ± std "
             f"(per seed), seconds per run on this machine (staa: both phases)", "",
             "| row | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for row in [r for r in ROWS if r in summary]:
        cells = []
        for dataset in names:
            s = summary[row][dataset]
            accs = [r.get("dynamic_acc", r["test_acc"]) for r in s["runs"]]
            secs = statistics.mean(r["seconds"] for r in s["runs"])
            cells.append(f"{s['mean']:.2f} ± {s['std']:.2f} ({', '.join(f'{x:.2f}' for x in accs)}), {secs:.0f} s")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    chip_rows = [r for r in ROWS if r in summary and all("chip_acc" in run for d in names
                                                           for run in summary[r][d]["runs"])]
    if chip_rows:
        lines += ["", f"Folded (calibrated on {CALIB} training inputs, no fine-tune) and on the chip (Loihi "
                      f"fixed point, bit-accurate simulator, as deployed): test accuracy (%) mean over the seeds, "
                      f"dynamic / checkpoint / folded / chip (dynamic: the network before STAA's static phase; "
                      f"the checkpoint is what was folded; both are the same network for every other row)", "",
                  "| row | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for row in chip_rows:
            cells = []
            for dataset in names:
                runs = summary[row][dataset]["runs"]
                cells.append(" / ".join(f"{statistics.mean(r.get(k, r['test_acc']) for r in runs):.2f}"
                                        for k in ("dynamic_acc", "test_acc", "folded_acc", "chip_acc")))
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
    refused = [(r, d, run["chip_refused"]) for r in ROWS if r in summary for d in names
               for run in summary[r][d]["runs"] if "chip_refused" in run]
    if refused:
        lines += ["", "Not folded (the compiler refuses the trained network; no chip figures):"] + \
                 [f"- {r} on {d}: {why}" for r, d, why in refused]
    placed = [r for r in chip_rows if all("loihi" in run for d in names for run in summary[r][d]["runs"])]
    if placed:
        mean = lambda runs, f: statistics.mean(f(r) for r in runs)
        lines += ["", "The chip per inference, mean over the seeds (the trained networks on their test split, "
                      "counted by the fast simulator, placed and priced by chip/placement.py and chip/cost.py with "
                      "the figures and sources of chip/hardware.py): mean firing rate (spikes per neuron per step), "
                      "host MACs (0: the inputs enter the chip as spikes, one per event), and per chip cores / "
                      "chips, time and energy streamed, energy as deployed (one sample at a time, host resets)", "",
                  "| row | dataset | rate | host MACs | Loihi: cores / chips, streamed µs, µJ; deployed µJ | "
                  "Loihi 2: cores / chips, streamed µs, µJ; deployed µJ |", "|---|---|---|---|---|---|"]
        for row in placed:
            for dataset in names:
                runs = summary[row][dataset]["runs"]
                chips = [f"{mean(runs, lambda r: r[c]['cores']):.0f} / {mean(runs, lambda r: r[c]['chips']):.0f}, "
                         f"{mean(runs, lambda r: r[c]['streamed']['us']):.1f}, {mean(runs, lambda r: r[c]['streamed']['uj']):.2f}; "
                         f"{mean(runs, lambda r: r[c]['as_deployed']['uj']):.2f}" for c in ("loihi", "loihi2")]
                lines.append(f"| {row} | {dataset} | {mean(runs, lambda r: r['rate']):.4f} | "
                             f"{mean(runs, lambda r: r['host_macs']):,.0f} | " + " | ".join(chips) + " |")
    text = "\n".join(lines)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"epochs": a.epochs, "seeds": a.seeds, "datasets": names,
                                                    "arch": a.arch, "timesteps": a.timesteps,
                                                    "results": summary}, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
