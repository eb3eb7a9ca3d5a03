"""The report users come for: what a trained network does on the chip, next to the GPU.

    python simulate/report.py ckpt.pt [--nir model.nir] [--data digits] [--out DIR]

Writes DIR/report.json, DIR/report.md and PNG plots: accuracy of the float network
(on CUDA when present, else CPU, and the report says which), of the folded float
graph, and of the bit-accurate chip simulation, with their prediction agreement;
firing rates per layer; operations and energy per inference under four conventions,
each counted on the network it names: (a) syops-counter's (the paper's Table 7) and
(b) NeuroBench's effective synaptic operations on the network as built, (c) the chip's
events x Loihi constants on the deployed program, as deployed and streamed, (d) the
network's conv and linear layers as an ANN (simulate/counting.py, simulate/ops.py,
simulate/energy.py).
Without --nir the checkpoint is folded here (calibrated, no fine-tune).
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from spikefold.compile.executor import GraphNet
from spikefold.compile.measure import record_spikes
from spikefold.compile.nir_io import NIRFormatError, read_nir
from spikefold.compile.pipeline import lower
from spikefold.compile.nir_io import DT_HELP
from spikefold.compile.nodes import LIF, Conv2d, Linear
from spikefold.deploy.cli_common import load_graph_and_inputs, quantize_file
from spikefold.deploy.hardware import profiles_with_overrides
from spikefold.deploy.map import map_program
from spikefold.deploy.quantize import ADDED
from spikefold.models.checkpoint import CheckpointError, model_from_checkpoint
from spikefold.models.data import DATASETS, DatasetNotFound, load_dataset
from spikefold.simulate import plots
from spikefold.simulate.constants import ENERGY_PJ
from spikefold.simulate.counting import Counter, footprint_bytes
from spikefold.simulate.chip import VARIANTS, ChipModel
from spikefold.simulate.energy import ANN_BASELINES, NETWORK_AS_BUILT, break_even_45nm, chip_key, energies, network_terms
from spikefold.simulate.engine import Simulator
from spikefold.simulate.ops import ChipAccumulator
from spikefold.common import distributed, validate
from spikefold.common.atomic import atomic_write_set, json_writer, text_writer
from spikefold.common.cli import ArgumentParser, command, fail, nonneg_int, positive_float, positive_int

OUTPUTS = ("report.md", "report.json", "accuracy.png", "firing_rates.png", "energy.png", "chip_utilisation.png")

def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", default=None,
                   help="trained checkpoint (leave out for a NIR graph alone, --nir: then the float "
                        "reference is the graph itself, run in spikefold's executor)")
    p.add_argument("--nir", default=None, help="folded graph from compile/to_nir.py (default: fold here), "
                                               "or any NIR graph")
    p.add_argument("--dt", type=positive_float, default=None, help=DT_HELP)
    p.add_argument("--inputs", default=None, help="your own inputs (.npy x or .npz x, y), as simulate/run.py")
    p.add_argument("--timesteps", type=positive_int, default=None, help="steps per sample for static --inputs")
    p.add_argument("--data", default=None, help="dataset (default: the checkpoint's)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--samples", type=nonneg_int, default=0, help="test samples (0: the whole split)")
    p.add_argument("--calib-samples", type=positive_int, default=256)
    p.add_argument("--batch-size", type=positive_int, default=128,
                   help="samples per batch: memory grows with it, not with the test split")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where the float network and the chip simulator run (auto: CUDA when present); "
                        "under torchrun each process uses GPU LOCAL_RANK")
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a checkpoint or NIR file declaring more MiB of arrays")
    p.add_argument("--chip-param", action="append", default=[], metavar="[PROFILE.]NAME=VALUE",
                   help="replace a chip figure (deploy/hardware.py) in every profile or in one, "
                        "e.g. loihi2.synop_pj=10; the report marks it as yours")
    p.add_argument("--sram-pj", type=positive_float, default=ENERGY_PJ["sram_8kb_45nm"],
                   help="pJ per SRAM access in the memory-aware 45 nm conventions (Horowitz 2014: "
                        "10 for 8 KB, 20 for 32 KB, 100 for 1 MB)")
    p.add_argument("--out", default=None, help="output directory (default: beside the checkpoint)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.checkpoint is None and args.nir is None:
        p.error("give a checkpoint, a NIR graph (--nir), or both")
    if args.checkpoint is not None and (args.inputs or args.dt):
        p.error("--inputs and --dt are for a NIR graph alone (leave out the checkpoint)")
    return args


def run(args, argv) -> dict:
    t0 = time.perf_counter()
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / "report"
    validate.outputs([out], [args.checkpoint, args.nir], directory=True)
    validate.outputs([out / f for f in OUTPUTS], [args.checkpoint, args.nir])
    rank, world, device = distributed.setup(args.device)
    args.quiet = args.quiet or rank != 0
    profiles = profiles_with_overrides(args.chip_param)
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
        info = graph.meta.get("nir", {})
        tuned = int(info.get("finetune_epochs", 0) or 0)
        folded_label = (f"folded ({info.get('fold', 'calibrated')})" +
                        (f" + fine-tuned ({tuned} epochs)" if tuned else "") + f", from {args.nir}")
    else:
        train = load_dataset(dataset, root, True, cfg.timesteps, cfg.input_size)
        calib = [x for x, _ in DataLoader(Subset(train, range(min(args.calib_samples, len(train)))), 128)]
        graph = lower(model, (cfg.in_channels, cfg.input_size, cfg.input_size), "calibrated", calib)
        folded_label = "folded (calibrated) here, not fine-tuned"
    program = quantize_file(graph, args.nir or args.checkpoint)
    steps.update()
    model.to(device)
    folded, sim = GraphNet(graph).eval().to(device), Simulator(program, device)
    counter = Counter(model, cfg.timesteps)          # (a), (b), (d): the network as built
    chip = ChipAccumulator(program)                  # (c): the deployed program
    per_batch, float_spikes = {}, {}
    overflow = {"u_wraps": 0, "v_saturations": 0, "conv_wraps": 0}
    mine = distributed.batches(len(test), args.batch_size, rank, world)
    loader = DataLoader(Subset(test, [i for _, idx in mine for i in idx]), args.batch_size)
    try:
        for (k, _), (x, y) in zip(mine, tqdm(loader, desc="simulate", disable=args.quiet, leave=False)):
            x = x.to(device)
            logits, spk = record_spikes(model, x)   # one float forward: predictions, rates, counts
            with torch.no_grad():
                fold_pred = folded(x).mean(0).argmax(1)
            for name, s in spk.items():
                float_spikes[name] = float_spikes.get(name, 0.0) + float(s.sum())
            deployed = sim.run(x, mode="full")                 # what Lava runs, spike for spike
            streamed = sim.run(x, mode="window")
            per_batch[k] = {"float": logits.mean(0).argmax(1).cpu(), "folded": fold_pred.cpu(),
                            "chip": deployed.logits.mean(0).argmax(1), "labels": y}
            chip.add(deployed, streamed)
            for key in overflow:
                overflow[key] += deployed.counts["total"][key]
    finally:
        counter.close()
    steps.update()
    if not gather_into(world, per_batch, float_spikes, chip, counter, overflow):
        return None                                  # not rank 0: rank 0 writes the report
    order = sorted(per_batch)
    labels = [per_batch[k]["labels"] for k in order]
    preds = {v: [per_batch[k][v] for k in order] for v in ("float", "folded", "chip")}
    y = torch.cat(labels)
    preds = {k: torch.cat(v) for k, v in preds.items()}
    n = len(y)
    accuracy = {k: 100.0 * float((v == y).float().mean()) for k, v in preds.items()}
    agreement = {f"{a} vs {b}": 100.0 * float((preds[a] == preds[b]).float().mean())
                 for a, b in (("float", "folded"), ("folded", "chip"), ("float", "chip"))}
    net = counter.totals()
    chip_ops = chip.result()
    chips, chip_costs = price(program, chip, profiles)
    energy = energies(net, cfg.timesteps, chip_costs, args.sram_pj)
    rate_built = 1.0 - net["activation_sparsity"]
    rate_chip = chip.mean_rate()
    terms45 = network_terms(net, cfg.timesteps, args.sram_pj)
    on_chip = chip_break_even(chips, energy, rate_chip)
    breakeven = {b: {**{k: {**break_even_45nm(terms45[k], energy[b]["pj"], rate_built), "measured_rate": rate_built}
                        for k in ("syops_45nm", "effective_45nm", "memory_45nm")}, **on_chip[b]}
                 for b in ANN_BASELINES}
    layers = [name for name, l in program.neurons.items() if not l.relay]
    rates_float = []
    for name in layers:
        src, layer = program.neurons[name].source, program.neurons[name]
        neurons = float(torch.tensor(layer.shape).prod())
        rates_float.append(float_spikes.get(src, float("nan")) / (neurons * cfg.timesteps * n))
    steps.update()
    ann = energy["ann_45nm"]["pj"]
    report = {
        "command": "python simulate/report.py " + " ".join(shlex.quote(a) for a in argv),
        "checkpoint": args.checkpoint, "folded_graph": folded_label, "dataset": dataset, "samples": n,
        "batch_size": args.batch_size,   # syops' spike test and Linear bias are per call: (a) depends on it
        "float_device": device.type, "arch": cfg.arch, "neuron": cfg.neuron, "timesteps": cfg.timesteps,
        "accuracy": accuracy, "agreement": agreement,
        "dynamic_attention": dynamic_attention(ckpt),
        "firing_rates": {name: {"chip": chip_ops["rates"][name], "float": fr} for name, fr in zip(layers, rates_float)},
        "operations_per_inference": {
            "syops": {"network": NETWORK_AS_BUILT, "ops": net["syops_ops"], "macs": net["syops_macs"],
                      "acs": net["syops_acs"]},
            "effective": {"network": NETWORK_AS_BUILT, "macs": net["nb_macs"], "acs": net["nb_acs"],
                          "dense": net["nb_dense"], "activation_sparsity": net["activation_sparsity"],
                          "footprint_bytes": footprint_bytes(model)},
            "chip": {"network": "deployed fixed-point program", **{k: v for k, v in chip_ops.items() if k != "rates"}},
            "ann": {"network": NETWORK_AS_BUILT + ", conv and linear layers", "macs": net["ann_macs"]},
        },
        "layers_as_built": counter.rows(),
        "energy": {k: {kk: v[kk] for kk in ("label", "network", "pj", "terms", "split_pj") if kk in v}
                   for k, v in energy.items()},
        "ann_over_snn_energy": {k: ann / v["pj"] for k, v in energy.items() if k != "ann_45nm" and v["pj"] > 0},
        "energy_constants_pj": ENERGY_PJ,
        "sram_pj": args.sram_pj,
        "break_even_rate": {"note": "mean firing rate (spikes per neuron per step) below which each SNN "
                                    "estimate costs less than the ANN baseline; measured: network as built "
                                    "1 - NeuroBench activation sparsity, chip the deployed program's mean rate",
                            "measured": {"network_as_built": rate_built, "chip": rate_chip}, **breakeven},
        "chip_mapping": chip_mapping(chips, chip_costs),
        "chip": {**program_summary(program), **overflow},
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_outputs(out, report, markdown(report), chips, {
        out / "accuracy.png": lambda tmp: plots.accuracy(tmp, *accuracy_bars(report))})
    steps.update()
    steps.close()
    report["out"] = str(out)
    return report


def gather_into(world: int, per_batch: dict, float_spikes: dict, chip: ChipAccumulator,
                counter: Counter | None = None, overflow: dict | None = None) -> bool:
    """Under torchrun, every rank's results merged into rank 0's objects, in place: predictions by
    batch number, float spike sums, chip and network counts, overflow counts (all sums of integers
    or exact fractions, so the merge is the single process's result).  False on other ranks."""
    states = distributed.gather({"batches": per_batch, "float_spikes": float_spikes, "chip": chip.state(),
                                 "counter": counter and counter.state(), "overflow": overflow}, world)
    if states is None:
        return False
    for st in states[1:]:
        per_batch.update(st["batches"])
        chip.merge(st["chip"])
        for name, v in st["float_spikes"].items():
            float_spikes[name] = float_spikes.get(name, 0.0) + v
        if counter is not None:
            counter.merge(st["counter"])
        for key in overflow or ():
            overflow[key] += st["overflow"][key]
    return True


def price(program, chip: ChipAccumulator, profiles: dict) -> tuple[dict, dict]:
    """({profile name: (profile, mapping, ChipModel)}, {(name, label, variant): cost}): the program
    placed on every profile's cores and priced as deployed and streamed."""
    models, costs = {}, {}
    for name, profile in profiles.items():
        mapping = map_program(program, profile)
        models[name] = (profile, mapping, ChipModel(program, mapping, chip))
        for v in VARIANTS:
            costs[(name, profile.label, v)] = models[name][2].cost(v)
    return models, costs


def write_outputs(out: Path, report: dict, md: str, models: dict, extra: dict | None = None) -> None:
    """report.json, report.md and the plots both kinds of report draw (firing rates, energy, the
    chips' utilisation), with `extra` {path: writer}, all or none (atomic_write_set)."""
    rates, energy = report["firing_rates"], report["energy"]
    atomic_write_set({
        **(extra or {}),
        out / "firing_rates.png": lambda tmp: plots.firing_rates(
            tmp, list(rates), [v["chip"] for v in rates.values()], [v["float"] for v in rates.values()]),
        out / "energy.png": lambda tmp: plots.energy(
            tmp, [v["label"] for v in energy.values()], [v["pj"] / 1e6 for v in energy.values()]),
        out / "chip_utilisation.png": lambda tmp: plots.utilisation(
            tmp, {profile.label: mapping.utilisation() for profile, mapping, _ in models.values()}),
        out / "report.json": json_writer(report),
        out / "report.md": text_writer(md)})


def chip_break_even(models: dict, energy: dict, rate: float) -> dict:
    """{ANN baseline: {chip row: break-even firing rate}} for every profile and variant."""
    return {b: {chip_key(name, v): {**priced.break_even(v, energy[b]["pj"], rate), "measured_rate": rate}
                for name, (_, _, priced) in models.items() for v in VARIANTS} for b in ANN_BASELINES}


def chip_mapping(models: dict, costs: dict) -> dict:
    """report.json's chip section: per profile the placement, both variants' time and energy, and
    every figure used with its source and whether it is assumed."""
    keep = ("steps", "time_ns", "inferences_per_s", "step_ns", "counts", "pj", "split_pj")
    return {name: {"label": profile.label, **mapping.summary(), "barrier_ns": priced.barrier,
                   **{v: {k: costs[(name, profile.label, v)][k] for k in keep} for v in VARIANTS},
                   "figures": {k: {"value": f.value, "unit": f.unit, "source": f.source, "assumed": f.assumed}
                               for k, f in profile.figures().items()}}
            for name, (profile, mapping, priced) in models.items()}


def program_summary(program) -> dict:
    return {"depth": program.depth, "steps_per_sample": program.steps,
            "relay_layers": sum(l.relay for l in program.neurons.values()),
            "delayed_synapse_layers": sum(s.delay > 0 for s in program.synapses.values()),
            "clipped_values": program.report["clips"]}


def dynamic_attention(ckpt: dict) -> dict | None:
    """For a deployable STAA (trained dynamic, then with its attention frozen: models/train.py's
    static phase), the dynamic network's test accuracy the checkpoint recorded before freezing:
    what the paper's recipe reports on a GPU.  None for any other checkpoint."""
    frozen = ckpt.get("static")
    if frozen is None:
        return None
    return {"accuracy": frozen["test_acc"], "epochs": frozen["epoch"],
            "frozen_before_static_epochs": frozen.get("frozen_test_acc"),
            "static_epochs": ckpt["epoch"] - frozen["epoch"],
            "measured": "by models/train.py on the whole test split before the attention was frozen"}


def accuracy_bars(r: dict) -> tuple[list, list]:
    labels, values = ["float", "folded", "chip"], [r["accuracy"][k] for k in ("float", "folded", "chip")]
    if r.get("dynamic_attention"):
        labels, values = ["dynamic STAA"] + labels, [r["dynamic_attention"]["accuracy"]] + values
    return labels, values


def markdown(r: dict) -> str:
    o, ch = r["operations_per_inference"], r["chip"]
    c = o["chip"]
    lines = [f"# spikefold report: {r['arch']} {r['neuron']}, T={r['timesteps']}, {r['dataset']}", "",
             f"Made by `{r['command']}` in {r['seconds']} s. {r['samples']} test samples, in batches of "
             f"{r['batch_size']} (syops' rules apply per call).", "",
             "## Accuracy", "", "| network | accuracy |", "|---|---|"]
    dyn = r.get("dynamic_attention")
    float_label = "float checkpoint"
    if dyn:
        lines += [f"| dynamic STAA (the paper's attention, computed from the data), PyTorch, after "
                  f"{dyn['epochs']} epochs (recorded in training, whole test split) | {dyn['accuracy']:.2f}% |"]
        float_label += f" (attention static, trained {dyn['static_epochs']} more epochs with the fold's constants)"
    lines += [f"| {float_label}, PyTorch on {r['float_device'].upper()} | {r['accuracy']['float']:.2f}% |",
             f"| {r['folded_graph']} (NIR, float) | {r['accuracy']['folded']:.2f}% |",
             f"| chip: Loihi fixed point, bit-accurate simulator, as deployed | {r['accuracy']['chip']:.2f}% |", "",
             "| prediction agreement | |", "|---|---|"]
    lines += [f"| {k} | {v:.2f}% |" for k, v in r["agreement"].items()]
    lines += ["", "![accuracy](accuracy.png)", "", "## Firing rates (spikes per neuron per step)", "",
              "| layer | float | chip |", "|---|---|---|"]
    lines += [f"| {k} | {v['float']:.4f} | {v['chip']:.4f} |" for k, v in r["firing_rates"].items()]
    lines += ["", "![firing rates](firing_rates.png)", "", "## Operations per inference", "",
              "| convention | counted on | MACs | ACs / synaptic events | neuron updates |",
              "|---|---|---|---|---|",
              f"| (a) syops-counter | {o['syops']['network']} | {o['syops']['macs']:,.0f} | "
              f"{o['syops']['acs']:,.0f} | (in ACs, as syops' LIF hook) |",
              f"| (b) NeuroBench effective | {o['effective']['network']} | {o['effective']['macs']:,.0f} | "
              f"{o['effective']['acs']:,.0f} | (not counted, as NeuroBench) |",
              f"| (c) chip, as deployed ({c['as_deployed']['steps']} steps) | {c['network']} | "
              f"{c['host_macs']:,.0f} (host) | {c['as_deployed']['synaptic_events']:,.0f} | "
              f"{c['as_deployed']['neuron_updates']:,.0f} ({c['as_deployed']['active_updates']:,.0f} active) |",
              f"| (c) chip, streamed ({c['streamed']['steps']} steps) | {c['network']} | {c['host_macs']:,.0f} (host) | "
              f"{c['streamed']['synaptic_events']:,.0f} | {c['streamed']['neuron_updates']:,.0f} "
              f"({c['streamed']['active_updates']:,.0f} active) |",
              f"| (d) ANN | {o['ann']['network']} | {o['ann']['macs']:,.0f} | 0 | - |", "",
              "(a) follows syops-counter 0.0.5's hooks rule for rule (a Linear's bias once per call; "
              "neuron updates as ACs; attention convs, with their biases, as MACs; LayerNorm, sigmoid and "
              "products not counted); (b) is NeuroBench 2.3.0's `synaptic_operations` (nonzero input x nonzero "
              "weight pairs, bias excluded; pooled spikes are MACs); both are cross-checked against the tools "
              "themselves in the tests. (c) *as deployed*: each sample alone for T + depth steps, every neuron "
              "(relays included) updated every step, state reset between samples, exactly what "
              "`deploy/to_lava.py` runs; *streamed*: samples back to back, each layer busy for its sample's T "
              "steps (assumes no reset cost and no spikes outside the window). The first layer runs on the host "
              "in float (host MACs, once per input frame).", "",
              "## Energy per inference", "", "| convention | counted on | energy | ANN / this | terms |",
              "|---|---|---|---|---|"]
    for k, v in r["energy"].items():
        terms = "; ".join(f"{t}: {e / 1e6:.4g} µJ" for t, e in v["terms"].items())
        ratio = r["ann_over_snn_energy"].get(k)
        lines.append(f"| {v['label']} | {v['network']} | {v['pj'] / 1e6:.4g} µJ | "
                     f"{'-' if ratio is None else f'{ratio:.2f}x'} | {terms} |")
    lines += ["", "![energy](energy.png)", "",
              "\"ANN / this\" is the (d) ANN's 45 nm energy divided by the row's: above 1, the spiking "
              "network costs less under that row's convention.", "",
              f"Constants: 45 nm FP32 MAC 4.6 pJ, AC 0.9 pJ, INT8 multiply 0.2 + add 0.03 pJ, SRAM access "
              f"{r['sram_pj']:g} pJ (M. Horowitz, ISSCC 2014). (e) charges each operation its memory accesses "
              "(an AC: weight read and membrane read and write; a MAC: weight and input reads; a neuron update: "
              "state read and write; an ANN output: one write), as Dampfhoffer et al. (IEEE TETCI 2023) and "
              "Lemaire et al. (2022) ask. The chip rows are the chip model of the next section: dynamic + "
              "static + host.",
              f"Chip program: pipeline depth {ch['depth']} steps ({ch['steps_per_sample']} steps per sample as "
              f"deployed), {ch['relay_layers']} relay layers, {ch['delayed_synapse_layers']} synapse layers "
              f"with axonal delays, {ch['clipped_values']} clipped values; over the "
              f"test split {ch['u_wraps']} u wraps, {ch['v_saturations']} v saturations, "
              f"{ch['conv_wraps']} conv accumulator wraps.", ""]
    return "\n".join(lines + chip_markdown(r))


def _verdict(b: dict) -> str:
    return {"never": "never", "always": "always"}.get(b["verdict"]) or f"below {b['rate']:.4f}"


def chip_markdown(r: dict) -> list:
    maps, e = r["chip_mapping"], r["energy"]
    names = list(maps)
    us = lambda pj: f"{pj / 1e6:.4g} µJ"
    lines = ["## The chip: placement, time and energy per inference", "",
             "The deployed program cut into cores under each chip's per-core limits (`deploy/map.py`), "
             "priced step by step (`simulate/chip.py`): a step lasts as long as its busiest core plus the "
             "longest spike route plus the barrier; energy is dynamic (events, updates, spike messages, tile "
             "hops) + static (power x chips x time) + host.", "",
             "| | " + " | ".join(maps[n]["label"] for n in names) + " |", "|---|" + "---|" * len(names),
             "| cores / chips / tiles | " + " | ".join(f"{maps[n]['cores']} / {maps[n]['chips']} / "
                                                     f"{maps[n]['tiles']}" for n in names) + " |"]
    for v, label in (("as_deployed", "as deployed"), ("streamed", "streamed")):
        lines += [f"| time per inference, {label} | " + " | ".join(
                      f"{maps[n][v]['time_ns'] / 1e3:,.2f} µs ({maps[n][v]['steps']} steps, "
                      f"{maps[n][v]['inferences_per_s']:,.0f}/s)" for n in names) + " |",
                  f"| energy, {label}: dynamic / static / host | " + " | ".join(
                      " / ".join(us(maps[n][v]['split_pj'][k]) for k in ("dynamic", "static", "host"))
                      for n in names) + " |"]
    lines += ["| barrier per step | " + " | ".join(f"{maps[n]['barrier_ns']:.0f} ns" for n in names) + " |", ""]
    for n in names:
        for v in maps[n]["violations"]:
            lines.append(f"- {maps[n]['label']}: cannot be placed as it is: {v}")
    lines += ["", "![per-layer utilisation](chip_utilisation.png)", "", "### How the chip compares", ""]
    ann, int8 = e["ann_45nm"]["pj"], e["ann_int8_45nm"]["pj"]
    for n in names:
        for v in ("deployed", "streamed"):
            c = e[f"{n}_{v}"]["pj"]
            syops = "" if "syops_45nm" not in e else \
                f", {c / e['syops_45nm']['pj']:.3g}x the syops-counter estimate ({us(e['syops_45nm']['pj'])})"
            lines.append(f"- {maps[n]['label']}, {v}: {us(c)} per inference, {c / ann:.3g}x the 45 nm FP32 "
                         f"ANN ({us(ann)}), {c / int8:.3g}x the INT8 ANN ({us(int8)}){syops}.")
    be = r["break_even_rate"]
    lines += ["", "Break-even firing rate: the mean rate (spikes per neuron per step) below which each spiking "
              "estimate costs less than the ANN baseline, all activity scaled alike (measured: " +
              (f"{be['measured']['network_as_built']:.4f} on the network as built, "
               if "network_as_built" in be["measured"] else "") +
              f"{be['measured']['chip']:.4f} on the chip). \"never\": a silent network already costs more.", "",
              "| spiking estimate | measured rate | vs ANN FP32 | vs ANN INT8 | vs memory-aware ANN |",
              "|---|---|---|---|---|"]
    for k in be["ann_45nm"]:
        row = [be[b][k] for b in ANN_BASELINES]
        lines.append(f"| {e[k]['label']} | {row[0]['measured_rate']:.4f} | " +
                     " | ".join(_verdict(b) for b in row) + " |")
    lines += ["", "### What this rests on", "",
              "- Loihi's per-operation energies and times are Davies et al. 2018 Table 2: pre-silicon "
              "simulations at 0.75 V, minimum energies and maximum times; its static power and reset energy "
              "are Frady et al. 2020's board measurements at an unstated voltage. Mixing the two is a known "
              "risk.",
              "- A step's events are spread over a layer's cores in proportion to each core's exact share "
              "over the run; active updates evenly. Figures are for the mean sample.",
              "- The host's first layer is priced as 45 nm FP32 MACs; the host's time is not counted (it is "
              "assumed to keep up).",
              "- The placement uses as few cores as the limits allow. A core updates its neurons one after "
              "another, so a full core makes a long step: a Loihi 2 core holds up to 8,192 neurons, and fewer "
              "chips can mean a slower step and more static energy. `--chip-param loihi2.neurons_per_core=1024` "
              "prices the other trade."]
    for n in names:
        assumed = {k: f for k, f in maps[n]["figures"].items() if f["assumed"]}
        if assumed:
            lines.append(f"- {maps[n]['label']}, assumed figures (override with --chip-param "
                         f"{n}.NAME=VALUE): " + "; ".join(f"`{k}` = {f['value']:g} {f['unit']} ({f['source']})"
                                                         for k, f in assumed.items()))
    return lines + [""]


GRAPH_OUTPUTS = ("report.md", "report.json", "firing_rates.png", "energy.png", "chip_utilisation.png")


def run_graph(args, argv) -> dict:
    """The report for a NIR graph alone (no checkpoint): the graph in spikefold's float executor
    against the chip, the chip's counts, placement, time and energy, and the graph's own conv and
    linear layers as the ANN baseline."""
    t0 = time.perf_counter()
    out = Path(args.out) if args.out else Path(args.nir).parent / "report"
    validate.outputs([out], [args.nir, args.inputs], directory=True)
    validate.outputs([out / f for f in GRAPH_OUTPUTS], [args.nir, args.inputs])
    profiles = profiles_with_overrides(args.chip_param)
    args.nir_file = args.nir
    graph, samples, inputs = load_graph_and_inputs(args, lazy=True)
    program = quantize_file(graph, args.nir)
    T = int(graph.meta["timesteps"])
    rank, world, device = distributed.setup(args.device)
    args.quiet = args.quiet or rank != 0
    net, sim, chip = GraphNet(graph).eval().to(device), Simulator(program, device), ChipAccumulator(program)
    per_batch, float_spikes = {}, {}
    for k, idx in tqdm(distributed.batches(len(samples), args.batch_size, rank, world), desc="simulate",
                       disable=args.quiet, leave=False):
        xb, yb = samples.batch(idx)
        with torch.no_grad():
            float_pred = net(xb.to(device), record=True).mean(0).argmax(1).cpu()
        for name, (s, _) in net.record.items():
            float_spikes[name] = float_spikes.get(name, 0.0) + float(s.sum())
        deployed, streamed = sim.run(xb, mode="full"), sim.run(xb, mode="window")
        per_batch[k] = {"float graph": float_pred, "chip": deployed.logits.mean(0).argmax(1), "labels": yb}
        chip.add(deployed, streamed)
    if not gather_into(world, per_batch, float_spikes, chip):
        return None                                  # not rank 0: rank 0 writes the report
    preds = {v: [per_batch[k][v] for k in sorted(per_batch)] for v in ("float graph", "chip")}
    y = torch.cat([per_batch[k]["labels"] for k in sorted(per_batch)]) if samples.labelled else None
    preds = {k: torch.cat(v) for k, v in preds.items()}
    n = len(samples)
    accuracy = None if y is None else {k: 100.0 * float((v == y).float().mean()) for k, v in preds.items()}
    agreement = 100.0 * float((preds["float graph"] == preds["chip"]).float().mean())
    own = lambda *kinds: [k for k in graph.of_type(*kinds) if graph.nodes[k].source not in ADDED]   # the user's
    ann_macs = sum(int(np.prod(graph.nodes[k].shape)) * int(np.prod(graph.nodes[k].weight.shape[1:]))
                   for k in own(Conv2d, Linear))
    outputs = sum(int(np.prod(graph.nodes[k].shape)) for k in own(LIF)) * T
    models, costs = price(program, chip, profiles)
    totals = dict.fromkeys(("syops_macs", "syops_acs", "nb_macs", "nb_acs"), 0.0)
    energy = energies({**totals, "ann_macs": ann_macs, "outputs": outputs}, T, costs, args.sram_pj)
    for k in ("syops_45nm", "effective_45nm", "memory_45nm"):   # need a PyTorch network to count on
        energy.pop(k)
    for k in ANN_BASELINES:
        energy[k]["network"] = "the NIR graph's conv and linear layers as an ANN"
    layers = [k for k, l in program.neurons.items() if not l.relay]
    rates = chip.rates()
    rate_chip = chip.mean_rate()
    breakeven = chip_break_even(models, energy, rate_chip)
    info = graph.meta.get("nir", {})
    report = {
        "command": "python simulate/report.py " + " ".join(shlex.quote(a) for a in argv),
        "nir": args.nir, "inputs": inputs, "samples": n, "timesteps": T, "dt": info.get("dt"),
        "foreign": bool(info.get("foreign")), "spike_rule": info.get("spike_rule"),
        "accuracy": accuracy, "agreement": {"float graph vs chip": agreement},
        "firing_rates": {k: {"chip": rates[k], "float": float_spikes.get(k, float("nan")) /
                             (float(np.prod(program.neurons[k].shape)) * T * n)} for k in layers},
        "operations_per_inference": {"chip": {"network": "deployed fixed-point program",
                                              **{k: v for k, v in chip.result().items() if k != "rates"}},
                                     "ann": {"network": "the NIR graph's conv and linear layers", "macs": ann_macs}},
        "energy": {k: {kk: v[kk] for kk in ("label", "network", "pj", "terms", "split_pj") if kk in v}
                   for k, v in energy.items()},
        "energy_constants_pj": ENERGY_PJ, "sram_pj": args.sram_pj,
        "break_even_rate": {"measured": {"chip": rate_chip}, **breakeven},
        "chip_mapping": chip_mapping(models, costs),
        "chip": program_summary(program),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_outputs(out, report, graph_markdown(report), models)
    report["out"] = str(out)
    return report


def graph_markdown(r: dict) -> str:
    acc = r["accuracy"]
    lines = [f"# spikefold report: {r['nir']} on {r['inputs']}", "",
             f"Made by `{r['command']}` in {r['seconds']} s. {r['samples']} samples, T = {r['timesteps']} steps"
             + (f", dt = {r['dt']:g} s (forward Euler; spike when {r['spike_rule']})" if r["foreign"] else "")
             + ". No checkpoint: the float reference is the NIR graph in spikefold's executor.", "",
             "## Accuracy", ""]
    if acc is None:
        lines.append("No labels given: predictions only.")
    else:
        lines += ["| network | accuracy |", "|---|---|", f"| NIR graph, float | {acc['float graph']:.2f}% |",
                  f"| chip: Loihi fixed point, bit-accurate simulator, as deployed | {acc['chip']:.2f}% |"]
    lines += ["", f"Same prediction, float graph vs chip: {r['agreement']['float graph vs chip']:.2f}%.", "",
              "## Firing rates (spikes per neuron per step)", "", "| layer | float | chip |", "|---|---|---|"]
    lines += [f"| {k} | {v['float']:.4f} | {v['chip']:.4f} |" for k, v in r["firing_rates"].items()]
    c = r["operations_per_inference"]["chip"]
    lines += ["", "![firing rates](firing_rates.png)", "", "## Operations and energy per inference", "",
              f"Chip, as deployed ({c['as_deployed']['steps']} steps): {c['as_deployed']['synaptic_events']:,.0f} "
              f"synaptic events, {c['as_deployed']['neuron_updates']:,.0f} neuron updates; streamed: "
              f"{c['streamed']['synaptic_events']:,.0f} and {c['streamed']['neuron_updates']:,.0f}; host "
              f"{c['host_macs']:,.0f} MACs. ANN baseline: {r['operations_per_inference']['ann']['macs']:,.0f} MACs. "
              "The syops-counter and NeuroBench conventions need the PyTorch network (give its checkpoint).", "",
              "| convention | counted on | energy |", "|---|---|---|"]
    lines += [f"| {v['label']} | {v['network']} | {v['pj'] / 1e6:.4g} µJ |" for v in r["energy"].values()]
    lines += ["", "![energy](energy.png)", ""]
    return "\n".join(lines + chip_markdown(r))


@command
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        r = run(args, argv) if args.checkpoint else run_graph(args, argv)
    except (CheckpointError, NIRFormatError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    finally:
        distributed.finish()
    if r is None:                                    # a rank other than 0 under torchrun
        return 0
    a, e = r["accuracy"], r["energy"]
    if args.checkpoint is None:
        print(f"wrote {r['out']}/report.md, report.json and 3 plots ({r['samples']} samples of {r['inputs']}, "
              f"{r['seconds']} s)")
        print(f"  float graph vs chip: same prediction {r['agreement']['float graph vs chip']:.2f}%" +
              ("" if a is None else f"; accuracy float {a['float graph']:.2f}%, chip {a['chip']:.2f}%"))
        print("  energy per inference: " + ", ".join(f"{v['label']} {v['pj'] / 1e6:.4g} µJ" for v in e.values()))
        return 0
    print(f"wrote {r['out']}/report.md, report.json and 4 plots ({r['samples']} {r['dataset']} test samples, "
          f"{r['seconds']} s)")
    print(f"  accuracy: float ({r['float_device']}) {a['float']:.2f}%, folded {a['folded']:.2f}%, "
          f"chip {a['chip']:.2f}%")
    print("  energy per inference: " + ", ".join(f"{v['label']} {v['pj'] / 1e6:.4g} µJ" for v in e.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
