"""The report's figures from one evaluation (simulate/evaluate.py): accuracy, agreement, firing
rates, operations and energy per inference under every convention, the chips' placement, time and
energy, as the dict report.json holds; and the files (report.json, report.md, the plots), all
written or none.

    report_checkpoint   the whole report for a checkpoint file (and its NIR file): load, fold if
                        needed, evaluate, build, write
    report_graph        the whole report for a NIR graph alone, on given samples
                        (simulate/report_netx.py: the report for a lava-dl netx file)
    checkpoint_report   the report's dict from an evaluation of a checkpoint's model
    graph_report        the report's dict from an evaluation of a graph alone
    write_report        report.json, report.md and the plots into a directory
    describe            the lines the command prints

Every energy names the network it was counted on (simulate/counters/energy.py); the chip's
figures come from chip/cost.py on every profile of chip/hardware.py.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spikefold.chip.cost import VARIANTS, ChipModel
from spikefold.chip.hardware import profiles_with_overrides
from spikefold.chip.counts import ChipAccumulator
from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.chip.placement import map_program
from spikefold.chip.program import Program
from spikefold.common import distributed, validate
from spikefold.common.atomic import atomic_write_set, json_writer, text_writer
from spikefold.compile.graph import Graph
from spikefold.compile.lower_checkpoint import LowerOptions, lower_checkpoint
from spikefold.compile.nir_io import read_nir
from spikefold.compile.nir_read import from_nir
from spikefold.compile.nodes import LIF, Conv2d, Linear
from spikefold.deploy.added_nodes import ADDED
from spikefold.deploy.quantize import quantize_named
from spikefold.deploy.samples import Samples, inputs_on_chip
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.data import DATASETS, load_dataset
from spikefold.simulate import plots
from spikefold.simulate.chip_range import chip_ranges
from spikefold.simulate.counters.energy import (ANN_BASELINES, NETWORK_AS_BUILT, break_even_45nm, chip_key,
                                                energies, network_terms)
from spikefold.simulate.counters.network import footprint_bytes
from spikefold.simulate.evaluate import Evaluation, evaluate
from spikefold.simulate.report_md import graph_markdown, markdown, netx_markdown

OUTPUTS = ("report.md", "report.json", "accuracy.png", "firing_rates.png", "divergence.png", "energy.png",
           "chip_utilisation.png")
GRAPH_OUTPUTS = ("report.md", "report.json", "firing_rates.png", "divergence.png", "energy.png",
                 "chip_utilisation.png")
NETX_OUTPUTS = ("report.md", "report.json", "firing_rates.png", "energy.png", "chip_utilisation.png")


@dataclass(frozen=True)
class ReportOptions:
    """simulate/report.py's options, same names and defaults: data, data_root (default: the
    checkpoint's), samples (test samples, 0: all), calib_samples (when the checkpoint is folded
    here), batch_size, device ("auto": CUDA when present; under torchrun each process its GPU),
    max_mb (refuse files declaring more MiB of arrays), max_work_mb (refuse a batch holding more
    MiB), chip_params ("[PROFILE.]NAME=VALUE"
    overrides of chip/hardware.py figures), sram_pj (pJ per SRAM access, memory-aware 45 nm
    conventions), quiet (no progress bars)."""
    data: str | None = None
    data_root: str | None = None
    samples: int = 0
    calib_samples: int = 256
    batch_size: int = 128
    device: str = "auto"
    max_mb: float = validate.MAX_MB
    max_work_mb: float = validate.MAX_WORK_MB
    chip_params: tuple = ()
    sram_pj: float = ENERGY_PJ["sram_8kb_45nm"]
    quiet: bool = False


def report_checkpoint(checkpoint, nir=None, out=None, options: ReportOptions = ReportOptions(),
                      command: str = "") -> dict | None:
    """The report for a checkpoint file and its folded NIR file (`nir`; default: folded here,
    calibrated, not fine-tuned), written into `out` (default: beside the checkpoint, report/).
    Returns report.json's dict with "out"; None on a rank other than 0 under torchrun."""
    o, t0 = options, time.perf_counter()
    out = validate.output_path(out, "--out", Path(checkpoint).parent / "report")
    validate.outputs([out], [checkpoint, nir], directory=True)
    validate.outputs([out / f for f in OUTPUTS], [checkpoint, nir])
    rank, world, device = distributed.setup(o.device)
    quiet = o.quiet or rank != 0
    profiles = profiles_with_overrides(list(o.chip_params))
    model, ckpt = model_from_checkpoint(checkpoint, o.max_mb)
    cfg, tc = model.cfg, ckpt.get("train_config", {})
    dataset = o.data or tc.get("dataset", "digits")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    root = o.data_root or tc.get("data_root")
    test = load_dataset(dataset, root, False, cfg.timesteps, cfg.input_size)
    n = len(test) if o.samples <= 0 else min(o.samples, len(test))
    steps = tqdm(total=4, desc="report", disable=quiet)
    graph, folded_label = _folded_graph(model, ckpt, nir, dataset, root, o)
    samples = Samples(dataset=test, n=n, name=dataset)
    graph = inputs_on_chip(graph, samples)          # event counts: the first synapse on the chip
    program = quantize_named(graph, nir or checkpoint)
    steps.update()
    ev = evaluate(graph, program, samples, model, o.batch_size, device,
                  quiet, rank, world, o.max_work_mb)
    steps.update()
    if ev is None:
        return None                                  # not rank 0: rank 0 writes the report
    report, models = checkpoint_report(ev, model, ckpt, program, profiles, o.sram_pj, command=command,
                                       checkpoint=str(checkpoint), folded_graph=folded_label, dataset=dataset,
                                       batch_size=o.batch_size, float_device=device.type)
    steps.update()
    report["seconds"] = round(time.perf_counter() - t0, 2)
    write_report(out, report, models)
    steps.update()
    steps.close()
    return {**report, "out": str(out)}


def _folded_graph(model, ckpt: dict, nir, dataset: str, root: str | None, o: ReportOptions) -> tuple:
    """(graph, label): the folded graph from the NIR file, or the graph `compile/to_nir.py ckpt`
    writes (compile/lower_checkpoint.py with to_nir's defaults but o.calib_samples: the same
    seeded calibration inputs and batches, read back from its NIR form), not fine-tuned."""
    if nir:
        graph = read_nir(nir, o.max_mb)
        info = graph.meta.get("nir", {})
        tuned = int(info.get("finetune_epochs", 0) or 0)
        return graph, (f"folded ({info.get('fold', 'calibrated')})" +
                       (f" + fine-tuned ({tuned} epochs)" if tuned else "") + f", from {nir}")
    g, _ = lower_checkpoint(model, ckpt, LowerOptions(calib_samples=o.calib_samples, eval_samples=0,
                                                      dataset=dataset, data_root=root))
    return from_nir(g), "folded (calibrated) here, not fine-tuned"


def report_graph(graph: Graph, program: Program, samples: Samples, out, options: ReportOptions = ReportOptions(),
                 command: str = "", nir: str = "") -> dict | None:
    """The report for a NIR graph alone (`nir` names its file) on `samples`: the graph in
    spikefold's float executor against the chip, the chip's counts, placement, time and energy,
    and the graph's own conv and linear layers as the ANN baseline, written into `out`."""
    o, t0 = options, time.perf_counter()
    profiles = profiles_with_overrides(list(o.chip_params))
    rank, world, device = distributed.setup(o.device)
    ev = evaluate(graph, program, samples, None, o.batch_size, device, o.quiet or rank != 0, rank, world,
                  o.max_work_mb)
    if ev is None:
        return None                                  # not rank 0: rank 0 writes the report
    report, models = graph_report(ev, graph, program, profiles, o.sram_pj, command=command, nir=nir,
                                  inputs=samples.name)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    write_report(out, report, models)
    return {**report, "out": str(out)}


def describe(r: dict) -> str:
    """What simulate/report.py prints: where the files are, accuracy, energy per inference."""
    a, e = r["accuracy"], r["energy"]
    energy = "  energy per inference: " + ", ".join(f"{v['label']} {v['pj'] / 1e6:.4g} µJ" for v in e.values())
    if "netx" in r:
        return "\n".join([
            f"wrote {r['out']}/report.md, report.json and 3 plots ({r['samples']} samples of {r['inputs']}, "
            f"{r['seconds']} s)", "  chip alone (a netx file carries no float network)" +
            ("" if a is None else f": accuracy {a['chip']:.2f}%"), energy])
    if "checkpoint" not in r:
        return "\n".join([
            f"wrote {r['out']}/report.md, report.json and 4 plots ({r['samples']} samples of {r['inputs']}, "
            f"{r['seconds']} s)",
            f"  float graph vs chip: same prediction {r['agreement']['float graph vs chip']:.2f}%" +
            ("" if a is None else f"; accuracy float {a['float graph']:.2f}%, chip {a['chip']:.2f}%"), energy] + _divergence_line(r))
    return "\n".join([
        f"wrote {r['out']}/report.md, report.json and 5 plots ({r['samples']} {r['dataset']} test samples, "
        f"{r['seconds']} s)",
        f"  accuracy: float ({r['float_device']}) {a['float']:.2f}%, folded {a['folded']:.2f}%, chip {a['chip']:.2f}%",
        energy] + _divergence_line(r))


def _divergence_line(r: dict) -> list:
    first = r["divergence"]["first_below_99"]
    return [f"  chip parts from the float graph first at {first['layer']} ({first['comparison'].replace('_', ' ')} "
            f"{first['agreement']:.2f}%)" if first else "  every layer's spikes agree to at least 99% (float and chip)"]


def checkpoint_report(ev: Evaluation, model, ckpt: dict, program: Program, profiles: dict,
                      sram_pj: float = ENERGY_PJ["sram_8kb_45nm"], **about) -> tuple[dict, dict]:
    """(report, {profile name: (profile, mapping, ChipModel)}) for a checkpoint's `model` (and its
    dict `ckpt`) evaluated with its folded graph and `program`.  `about`: the report's first
    fields, in order (command, checkpoint, folded_graph, dataset), then the measured figures."""
    cfg, net, T = model.cfg, ev.counter.totals(), model.cfg.timesteps
    batch_size, float_device = about.pop("batch_size"), about.pop("float_device")
    chip_ops = ev.chip.result()
    models, costs = price(program, ev.chip, profiles)
    energy = energies(net, T, costs, sram_pj)
    rate_built, rate_chip = 1.0 - net["activation_sparsity"], ev.chip.mean_rate()
    terms45 = network_terms(net, T, sram_pj)
    on_chip = chip_break_even(models, energy, rate_chip)
    breakeven = {b: {**{k: {**break_even_45nm(terms45[k], energy[b]["pj"], rate_built), "measured_rate": rate_built}
                        for k in ("syops_45nm", "effective_45nm", "memory_45nm")}, **on_chip[b]}
                 for b in ANN_BASELINES}
    layers = [name for name, l in program.neurons.items() if not l.relay]
    rates_float = [ev.float_spikes.get(program.neurons[name].source, float("nan"))
                   / (float(np.prod(program.neurons[name].shape)) * T * ev.n) for name in layers]
    ann = energy["ann_45nm"]["pj"]
    pairs = (("float", "folded"), ("folded", "chip"), ("float", "chip"))
    report = {
        **about, "samples": ev.n,
        "batch_size": batch_size,   # syops' spike test and Linear bias are per call: (a) depends on it
        "float_device": float_device, "arch": cfg.arch, "neuron": cfg.neuron, "timesteps": T,
        "accuracy": ev.accuracy(), "agreement": {f"{a} vs {b}": ev.agreement(a, b) for a, b in pairs},
        "dynamic_attention": dynamic_attention(ckpt),
        "firing_rates": {name: {"chip": chip_ops["rates"][name], "float": fr} for name, fr in zip(layers, rates_float)},
        "divergence": divergence_report(ev),
        "operations_per_inference": {
            "syops": {"network": NETWORK_AS_BUILT, "ops": net["syops_ops"], "macs": net["syops_macs"],
                      "acs": net["syops_acs"]},
            "effective": {"network": NETWORK_AS_BUILT, "macs": net["nb_macs"], "acs": net["nb_acs"],
                          "dense": net["nb_dense"], "activation_sparsity": net["activation_sparsity"],
                          "footprint_bytes": footprint_bytes(model)},
            "chip": {"network": "deployed fixed-point program", **{k: v for k, v in chip_ops.items() if k != "rates"}},
            "ann": {"network": NETWORK_AS_BUILT + ", conv and linear layers", "macs": net["ann_macs"]},
        },
        "layers_as_built": ev.counter.rows(),
        "energy": energy_rows(energy),
        "ann_over_snn_energy": {k: ann / v["pj"] for k, v in energy.items() if k != "ann_45nm" and v["pj"] > 0},
        "energy_constants_pj": ENERGY_PJ,
        "sram_pj": sram_pj,
        "break_even_rate": {"note": "mean firing rate (spikes per neuron per step) below which each SNN "
                                    "estimate costs less than the ANN baseline; measured: network as built "
                                    "1 - NeuroBench activation sparsity, chip the deployed program's mean rate",
                            "measured": {"network_as_built": rate_built, "chip": rate_chip}, **breakeven},
        "chip_mapping": chip_mapping(models, costs),
        "chip_ranges": chip_ranges(models, energy),
        "chip": {**program_summary(program), **ev.overflow},
    }
    return report, models


def graph_report(ev: Evaluation, graph: Graph, program: Program, profiles: dict,
                 sram_pj: float = ENERGY_PJ["sram_8kb_45nm"], **about) -> tuple[dict, dict]:
    """(report, {profile name: (profile, mapping, ChipModel)}) for a NIR graph alone evaluated
    against its `program`; the ANN baseline is the graph's own conv and linear layers.  `about`:
    the first fields, in order (command, nir, inputs)."""
    T, n = int(graph.meta["timesteps"]), ev.n
    own = lambda *kinds: [k for k in graph.of_type(*kinds) if graph.nodes[k].source not in ADDED]   # the user's
    ann_macs = sum(int(np.prod(graph.nodes[k].shape)) * int(np.prod(graph.nodes[k].weight.shape[1:]))
                   for k in own(Conv2d, Linear))
    outputs = sum(int(np.prod(graph.nodes[k].shape)) for k in own(LIF)) * T
    models, costs = price(program, ev.chip, profiles)
    energy = energies_without_a_model(ann_macs, outputs, T, costs, sram_pj,
                                      "the NIR graph's conv and linear layers as an ANN")
    layers = [k for k, l in program.neurons.items() if not l.relay]
    rates, rate_chip = ev.chip.rates(), ev.chip.mean_rate()
    info = graph.meta.get("nir", {})
    report = {
        **about, "samples": n, "timesteps": T, "dt": info.get("dt"),
        "foreign": bool(info.get("foreign")), "spike_rule": info.get("spike_rule"),
        "accuracy": ev.accuracy(), "agreement": {"float graph vs chip": ev.agreement("float graph", "chip")},
        "firing_rates": {k: {"chip": rates[k], "float": ev.float_spikes.get(k, float("nan")) /
                             (float(np.prod(program.neurons[k].shape)) * T * n)} for k in layers},
        "divergence": divergence_report(ev),
        "operations_per_inference": {"chip": {"network": "deployed fixed-point program",
                                              **{k: v for k, v in ev.chip.result().items() if k != "rates"}},
                                     "ann": {"network": "the NIR graph's conv and linear layers", "macs": ann_macs}},
        **chip_sections(program, models, costs, energy, rate_chip, sram_pj),
    }
    return report, models


def energies_without_a_model(ann_macs: int, outputs: int, T: int, costs: dict, sram_pj: float,
                             network: str) -> dict:
    """energies() for a network with no PyTorch model beside it (a NIR graph, a netx file): the
    chip's rows and the ANN baselines counted on `network` (ann_macs MACs, `outputs` activations
    over T steps); the syops-counter, NeuroBench and memory-aware SNN rows need a model, so none."""
    totals = dict.fromkeys(("syops_macs", "syops_acs", "nb_macs", "nb_acs"), 0.0)
    energy = energies({**totals, "ann_macs": ann_macs, "outputs": outputs}, T, costs, sram_pj)
    for k in ("syops_45nm", "effective_45nm", "memory_45nm"):
        energy.pop(k)
    for k in ANN_BASELINES:
        energy[k]["network"] = network
    return energy


def chip_sections(program: Program, models: dict, costs: dict, energy: dict, rate_chip: float,
                  sram_pj: float) -> dict:
    """The report's closing sections for a network and no PyTorch model beside it: energy rows,
    constants, break-even rates, the chips' placement and ranges, the program's summary."""
    return {"energy": energy_rows(energy), "energy_constants_pj": ENERGY_PJ, "sram_pj": sram_pj,
            "break_even_rate": {"measured": {"chip": rate_chip}, **chip_break_even(models, energy, rate_chip)},
            "chip_mapping": chip_mapping(models, costs), "chip_ranges": chip_ranges(models, energy),
            "chip": program_summary(program)}


def divergence_report(ev: Evaluation) -> dict:
    """report.json's "divergence": spike agreement per layer (%) and the first layer below 99 %."""
    return {"layers": ev.divergence.rows(), "first_below_99": ev.divergence.first_below(),
            "note": "% of (step, sample, neuron) positions whose spikes agree in the T-step window: "
                    "checkpoint vs folded float graph, folded float graph vs chip (simulate/divergence.py)"}


def energy_rows(energy: dict) -> dict:
    return {k: {kk: v[kk] for kk in ("label", "network", "pj", "terms", "split_pj") if kk in v}
            for k, v in energy.items()}


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


def write_report(out: Path, report: dict, models: dict) -> None:
    """report.json, report.md and the plots into `out`, all or none (atomic_write_set): firing
    rates, energy and the chips' utilisation; divergence where a float network ran beside the
    chip; accuracy for a checkpoint's report.  The kind is told by what the report is of:
    "checkpoint", "nir" (a graph alone) or "netx" (a lava-dl netx file, the chip alone)."""
    rates, energy = report["firing_rates"], report["energy"]
    out = Path(out)
    kind = "checkpoint" if "checkpoint" in report else "netx" if "netx" in report else "nir"
    extra = {}
    if kind == "checkpoint":
        extra[out / "accuracy.png"] = lambda tmp: plots.accuracy(tmp, *accuracy_bars(report), report["samples"])
    if kind != "netx":
        extra[out / "divergence.png"] = lambda tmp: plots.divergence(tmp, report["divergence"]["layers"])
    md = {"checkpoint": markdown, "nir": graph_markdown, "netx": netx_markdown}[kind](report)
    atomic_write_set({
        **extra,
        out / "firing_rates.png": lambda tmp: plots.firing_rates(
            tmp, list(rates), [v["chip"] for v in rates.values()], [v["float"] for v in rates.values()]),
        out / "energy.png": lambda tmp: plots.energy(tmp, energy),
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
    return {name: {"label": profile.label, "model": profile.model, **mapping.summary(), "barrier_ns": priced.barrier,
                   **{v: {k: costs[(name, profile.label, v)][k] for k in keep} for v in VARIANTS},
                   "figures": {k: {"value": f.value, "unit": f.unit, "source": f.source, "assumed": f.assumed,
                                   "fitted": f.fitted, "kind": f.kind}
                               for k, f in profile.figures().items()}}
            for name, (profile, mapping, priced) in models.items()}


def program_summary(program) -> dict:
    return {"depth": program.depth, "steps_per_sample": program.steps,
            "relay_layers": sum(l.relay for l in program.neurons.values()),
            "delayed_synapse_layers": sum(s.delay > 0 for s in program.synapses.values()),
            "clipped_values": program.report.get("clips", 0)}   # a netx program: none (its integers as written)


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
