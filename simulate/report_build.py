"""The report's figures from one evaluation (simulate/evaluate.py): accuracy, agreement, firing
rates, operations and energy per inference under every convention, the chips' placement, time and
energy, as the dict report.json holds; and the files (report.json, report.md, the plots), all
written or none.

    checkpoint_report   a trained checkpoint: model as built, folded graph, chip
    graph_report        a NIR graph alone: the graph in spikefold's executor, chip
    write_report        report.json, report.md and the plots into a directory

Every energy names the network it was counted on (simulate/counters/energy.py); the chip's
figures come from chip/cost.py on every profile of chip/hardware.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from spikefold.chip.cost import VARIANTS, ChipModel
from spikefold.chip.counts import ChipAccumulator
from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.chip.placement import map_program
from spikefold.chip.program import Program
from spikefold.common.atomic import atomic_write_set, json_writer, text_writer
from spikefold.compile.graph import Graph
from spikefold.compile.nodes import LIF, Conv2d, Linear
from spikefold.deploy.quantize import ADDED
from spikefold.simulate import plots
from spikefold.simulate.counters.energy import (ANN_BASELINES, NETWORK_AS_BUILT, break_even_45nm, chip_key,
                                                energies, network_terms)
from spikefold.simulate.counters.network import footprint_bytes
from spikefold.simulate.evaluate import Evaluation
from spikefold.simulate.report_md import graph_markdown, markdown

OUTPUTS = ("report.md", "report.json", "accuracy.png", "firing_rates.png", "energy.png", "chip_utilisation.png")
GRAPH_OUTPUTS = ("report.md", "report.json", "firing_rates.png", "energy.png", "chip_utilisation.png")


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
        "energy": _energy_rows(energy),
        "ann_over_snn_energy": {k: ann / v["pj"] for k, v in energy.items() if k != "ann_45nm" and v["pj"] > 0},
        "energy_constants_pj": ENERGY_PJ,
        "sram_pj": sram_pj,
        "break_even_rate": {"note": "mean firing rate (spikes per neuron per step) below which each SNN "
                                    "estimate costs less than the ANN baseline; measured: network as built "
                                    "1 - NeuroBench activation sparsity, chip the deployed program's mean rate",
                            "measured": {"network_as_built": rate_built, "chip": rate_chip}, **breakeven},
        "chip_mapping": chip_mapping(models, costs),
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
    totals = dict.fromkeys(("syops_macs", "syops_acs", "nb_macs", "nb_acs"), 0.0)
    energy = energies({**totals, "ann_macs": ann_macs, "outputs": outputs}, T, costs, sram_pj)
    for k in ("syops_45nm", "effective_45nm", "memory_45nm"):   # need a PyTorch network to count on
        energy.pop(k)
    for k in ANN_BASELINES:
        energy[k]["network"] = "the NIR graph's conv and linear layers as an ANN"
    layers = [k for k, l in program.neurons.items() if not l.relay]
    rates, rate_chip = ev.chip.rates(), ev.chip.mean_rate()
    info = graph.meta.get("nir", {})
    report = {
        **about, "samples": n, "timesteps": T, "dt": info.get("dt"),
        "foreign": bool(info.get("foreign")), "spike_rule": info.get("spike_rule"),
        "accuracy": ev.accuracy(), "agreement": {"float graph vs chip": ev.agreement("float graph", "chip")},
        "firing_rates": {k: {"chip": rates[k], "float": ev.float_spikes.get(k, float("nan")) /
                             (float(np.prod(program.neurons[k].shape)) * T * n)} for k in layers},
        "operations_per_inference": {"chip": {"network": "deployed fixed-point program",
                                              **{k: v for k, v in ev.chip.result().items() if k != "rates"}},
                                     "ann": {"network": "the NIR graph's conv and linear layers", "macs": ann_macs}},
        "energy": _energy_rows(energy),
        "energy_constants_pj": ENERGY_PJ, "sram_pj": sram_pj,
        "break_even_rate": {"measured": {"chip": rate_chip}, **chip_break_even(models, energy, rate_chip)},
        "chip_mapping": chip_mapping(models, costs),
        "chip": program_summary(program),
    }
    return report, models


def _energy_rows(energy: dict) -> dict:
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
    rates, energy and the chips' utilisation, and for a checkpoint's report the accuracy plot."""
    rates, energy = report["firing_rates"], report["energy"]
    out, graph_only = Path(out), "nir" in report and "checkpoint" not in report
    extra = {} if graph_only else {out / "accuracy.png": lambda tmp: plots.accuracy(tmp, *accuracy_bars(report))}
    md = graph_markdown(report) if graph_only else markdown(report)
    atomic_write_set({
        **extra,
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
