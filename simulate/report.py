"""The report users come for: what a trained network does on the chip, next to the GPU.

    python simulate/report.py ckpt.pt [--nir model.nir] [--data digits] [--out DIR]

Writes DIR/report.json, DIR/report.md and PNG plots: accuracy of the float network
(on CUDA when present, else CPU, and the report says which), of the folded float
graph, and of the bit-accurate chip simulation, with their prediction agreement;
firing rates per layer; operations per inference; energy per inference under
(a) the paper's 45 nm convention, (b) effective 45 nm counts, (c) the chip's events
x Loihi constants, (d) the same network as an ANN (simulate/ops.py, simulate/energy.py).
Without --nir the checkpoint is folded here (calibrated, no fine-tune).
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from compile.executor import GraphNet
from compile.measure import record_spikes
from compile.nir_io import NIRFormatError, read_nir
from compile.pipeline import lower
from deploy.quantize import quantize
from spikefold import validate
from spikefold.atomic import atomic_write_set, json_writer, text_writer
from models.checkpoint import CheckpointError, model_from_checkpoint
from spikefold.cli import (ArgumentParser, InputError, command, fail, nonneg_int, positive_float,
                           positive_int)
from models.data import DATASETS, DatasetNotFound, load_dataset
from simulate import plots
from simulate.constants import ENERGY_PJ
from simulate.energy import energies
from simulate.engine import Simulator
from simulate.ops import OpsAccumulator

OUTPUTS = ("report.md", "report.json", "accuracy.png", "firing_rates.png", "energy.png")
LABELS = {"paper_45nm": "(a) paper 45 nm", "effective_45nm": "(b) effective 45 nm",
          "loihi": "(c) Loihi events", "ann_45nm": "(d) ANN 45 nm"}


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--nir", default=None, help="folded graph from compile/to_nir.py (default: fold here)")
    p.add_argument("--data", default=None, help="dataset (default: the checkpoint's)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--samples", type=nonneg_int, default=0, help="test samples (0: the whole split)")
    p.add_argument("--calib-samples", type=positive_int, default=256)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a checkpoint or NIR file declaring more MiB of arrays")
    p.add_argument("--out", default=None, help="output directory (default: beside the checkpoint)")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def run(args, argv) -> dict:
    t0 = time.perf_counter()
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / "report"
    validate.outputs([out], [args.checkpoint, args.nir], directory=True)
    validate.outputs([out / f for f in OUTPUTS], [args.checkpoint, args.nir])
    model, ckpt = model_from_checkpoint(args.checkpoint, args.max_mb)
    cfg = model.cfg
    tc = ckpt.get("train_config", {})
    dataset = args.data or tc.get("dataset", "digits")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    root = args.data_root or tc.get("data_root")
    test = load_dataset(dataset, root, False, cfg.timesteps, cfg.input_size)
    if args.samples > 0:
        test = Subset(test, range(min(args.samples, len(test))))
    steps = tqdm(total=4, desc="report", disable=args.quiet)
    if args.nir:
        graph = read_nir(args.nir, args.max_mb)
        folded_from = args.nir
    else:
        train = load_dataset(dataset, root, True, cfg.timesteps, cfg.input_size)
        calib = [x for x, _ in DataLoader(Subset(train, range(min(args.calib_samples, len(train)))), 128)]
        graph = lower(model, (cfg.in_channels, cfg.input_size, cfg.input_size), "calibrated", calib)
        folded_from = "folded here (calibrated, no fine-tune)"
    try:
        program = quantize(graph)
    except ValueError as e:
        raise InputError(f"{args.nir or args.checkpoint}: {str(e).splitlines()[0]}") from None
    steps.update()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    folded, sim = GraphNet(graph).eval(), Simulator(program)
    acc = OpsAccumulator(program)
    preds = {"float": [], "folded": [], "chip": []}
    labels, float_spikes = [], {}
    overflow = {"u_wraps": 0, "v_saturations": 0, "conv_wraps": 0}
    loader = DataLoader(test, args.batch_size)
    for x, y in tqdm(loader, desc="simulate", disable=args.quiet, leave=False):
        logits, spk = record_spikes(model, x.to(device))   # one float forward: predictions and rates
        preds["float"].append(logits.mean(0).argmax(1).cpu())
        with torch.no_grad():
            preds["folded"].append(folded(x).mean(0).argmax(1))
        for k, s in spk.items():
            float_spikes[k] = float_spikes.get(k, 0.0) + float(s.sum())
        r = sim.run(x, record=True, mode="window")
        preds["chip"].append(r.logits.mean(0).argmax(1))
        acc.add(x, r)
        for k in overflow:
            overflow[k] += r.counts["total"][k]
        labels.append(y)
    steps.update()
    y = torch.cat(labels)
    preds = {k: torch.cat(v) for k, v in preds.items()}
    n = len(y)
    accuracy = {k: 100.0 * float((v == y).float().mean()) for k, v in preds.items()}
    agreement = {f"{a} vs {b}": 100.0 * float((preds[a] == preds[b]).float().mean())
                 for a, b in (("float", "folded"), ("folded", "chip"), ("float", "chip"))}
    ops = acc.result()
    energy = energies(ops)
    layers = [name for name, l in program.neurons.items() if not l.relay]
    rates_float = []
    for name in layers:
        src, layer = program.neurons[name].source, program.neurons[name]
        neurons = float(torch.tensor(layer.shape).prod())
        rates_float.append(float_spikes.get(src, float("nan")) / (neurons * cfg.timesteps * n))
    steps.update()
    report = {
        "command": "python simulate/report.py " + " ".join(shlex.quote(a) for a in argv),
        "checkpoint": args.checkpoint, "folded_graph": folded_from, "dataset": dataset, "samples": n,
        "float_device": device, "arch": cfg.arch, "neuron": cfg.neuron, "timesteps": cfg.timesteps,
        "accuracy": accuracy, "agreement": agreement,
        "firing_rates": {name: {"chip": ops["rates"][name], "float": fr} for name, fr in zip(layers, rates_float)},
        "operations_per_inference": {k: v for k, v in ops.items() if k != "rates"},
        "energy_per_inference_pj": {k: v["pj"] for k, v in energy.items()},
        "energy_terms_pj": {k: v["terms"] for k, v in energy.items()},
        "energy_constants_pj": ENERGY_PJ,
        "chip": {"depth": program.depth, "relay_layers": sum(l.relay for l in program.neurons.values()),
                 "clipped_values": program.report["clips"], **overflow},
        "seconds": round(time.perf_counter() - t0, 2),
    }
    atomic_write_set({
        out / "accuracy.png": lambda tmp: plots.accuracy(
            tmp, ["float", "folded", "chip"], [accuracy[k] for k in ("float", "folded", "chip")]),
        out / "firing_rates.png": lambda tmp: plots.firing_rates(
            tmp, layers, [ops["rates"][l] for l in layers], rates_float),
        out / "energy.png": lambda tmp: plots.energy(
            tmp, [LABELS[k] for k in energy], [v["pj"] / 1e6 for v in energy.values()]),
        out / "report.json": json_writer(report),
        out / "report.md": text_writer(markdown(report))})
    steps.update()
    steps.close()
    report["out"] = str(out)
    return report


def markdown(r: dict) -> str:
    o = r["operations_per_inference"]
    lines = [f"# spikefold report: {r['arch']} {r['neuron']}, T={r['timesteps']}, {r['dataset']}", "",
             f"Made by `{r['command']}` in {r['seconds']} s. Folded graph: {r['folded_graph']}. "
             f"{r['samples']} test samples.", "",
             "## Accuracy", "", "| network | accuracy |", "|---|---|",
             f"| float, PyTorch on {r['float_device'].upper()} | {r['accuracy']['float']:.2f}% |",
             f"| folded float graph (NIR) | {r['accuracy']['folded']:.2f}% |",
             f"| chip: Loihi fixed point, bit-accurate simulator | {r['accuracy']['chip']:.2f}% |", "",
             "| prediction agreement | |", "|---|---|"]
    lines += [f"| {k} | {v:.2f}% |" for k, v in r["agreement"].items()]
    lines += ["", "![accuracy](accuracy.png)", "", "## Firing rates (spikes per neuron per step)", "",
              "| layer | float | chip |", "|---|---|---|"]
    lines += [f"| {k} | {v['float']:.4f} | {v['chip']:.4f} |" for k, v in r["firing_rates"].items()]
    lines += ["", "![firing rates](firing_rates.png)", "", "## Operations per inference", "",
              "| convention | MACs | ACs / synaptic events | neuron updates |", "|---|---|---|---|",
              f"| (a) paper (syops) | {o['paper']['macs']:,.0f} | {o['paper']['acs']:,.0f} | "
              f"{o['paper']['neuron_updates']:,.0f} (in MACs) |",
              f"| (b) effective | {o['effective']['macs']:,.0f} | {o['effective']['acs']:,.0f} | (as (a)) |",
              f"| (c) chip | {o['chip']['host_macs']:,.0f} (host) | {o['chip']['synaptic_events']:,.0f} | "
              f"{o['chip']['neuron_updates']:,.0f} ({o['chip']['active_updates']:,.0f} active) |",
              f"| (d) ANN | {o['ann']['macs']:,.0f} | 0 | - |", "",
              "## Energy per inference", "", "| convention | energy | terms |", "|---|---|---|"]
    for k, pj in r["energy_per_inference_pj"].items():
        terms = "; ".join(f"{t}: {v / 1e6:.4g} µJ" for t, v in r["energy_terms_pj"][k].items())
        lines.append(f"| {LABELS[k]} | {pj / 1e6:.4g} µJ | {terms} |")
    lines += ["", "![energy](energy.png)", "",
              "Constants (pJ): 45 nm MAC 4.6, AC 0.9 (Horowitz, ISSCC 2014); Loihi synaptic op 23.6, "
              "neuron update 81 active / 52 inactive (Davies et al., IEEE Micro 2018). The chip runs the "
              "first layer on the host (counted in (c) as host MACs, once per input image).",
              f"Chip program: pipeline depth {r['chip']['depth']} steps, {r['chip']['relay_layers']} relay "
              f"layers, {r['chip']['clipped_values']} clipped values; over the test split "
              f"{r['chip']['u_wraps']} u wraps, {r['chip']['v_saturations']} v saturations, "
              f"{r['chip']['conv_wraps']} conv accumulator wraps.", ""]
    return "\n".join(lines)


@command
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        r = run(args, argv)
    except (CheckpointError, NIRFormatError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    a, e = r["accuracy"], r["energy_per_inference_pj"]
    print(f"wrote {r['out']}/report.md, report.json and 3 plots ({r['samples']} {r['dataset']} test samples, "
          f"{r['seconds']} s)")
    print(f"  accuracy: float ({r['float_device']}) {a['float']:.2f}%, folded {a['folded']:.2f}%, "
          f"chip {a['chip']:.2f}%")
    print("  energy per inference: " + ", ".join(f"{LABELS[k]} {v / 1e6:.4g} µJ" for k, v in e.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
