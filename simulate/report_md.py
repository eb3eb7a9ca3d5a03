"""The report as Markdown: report.md from report.json's dict, for a checkpoint (`markdown`) or a
NIR graph alone (`graph_markdown`), the chip's placement, time and energy in both
(`chip_markdown`).  Text only: every figure comes from the dict."""
from __future__ import annotations

from spikefold.simulate.counters.energy import ANN_BASELINES


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
    lines += ["", "![firing rates](firing_rates.png)", ""] + divergence_markdown(r) + ["## Operations per inference", "",
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
              "`deploy/to_lava.py` runs; *streamed*: samples back to back through self-resetting neurons, as "
              "lava-dl runs a test set (`deploy/to_lava.py --stream`), T steps per sample, no host resets: "
              f"{streamed_run(c)}. " + (
                  "The first layer runs on the host in float (host MACs, once per input frame)." if c["host_macs"]
                  else "The inputs are spikes or event counts: they enter the chip as one spike per event (an "
                       "input layer of copies, `input_spikes`, copy j firing when a count is at least j + 1), "
                       "so the first synapse runs on the chip and the host multiplies nothing."), "",
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
              f"{ch['conv_wraps']} conv accumulator wraps, {ch.get('host_saturations', 0)} input currents "
              f"saturated at the host's int32 limit.", ""]
    return "\n".join(lines + chip_markdown(r))


def _verdict(b: dict) -> str:
    return {"never": "never", "always": "always"}.get(b["verdict"]) or f"below {b['rate']:.4f}"


def chip_markdown(r: dict) -> list:
    maps, e = r["chip_mapping"], r["energy"]
    names = list(maps)
    us = lambda pj: f"{pj / 1e6:.4g} µJ"
    lines = ["## The chip: placement, time and energy per inference", "",
             "The deployed program cut into cores under each chip's per-core limits (`chip/placement.py`), "
             "priced step by step (`chip/cost.py`): a step lasts as long as its busiest core plus the "
             "longest spike route plus the barrier; energy is dynamic (events, updates, spike messages, tile "
             "hops) + static (power x chips x time) + host.", "",
             "| | " + " | ".join(maps[n]["label"] for n in names) + " |", "|---|" + "---|" * len(names),
             "| model of the chip | " + " | ".join(maps[n].get("model", "") for n in names) + " |",
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
    lines += range_markdown(r)
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
    return lines + assumptions_markdown(maps)


def assumptions_markdown(maps: dict) -> list:
    """"What this rests on": the modelling choices, then every profile's figures as a table."""
    names = list(maps)
    lines = ["", "### What this rests on", "",
              "- Loihi's per-operation energies and times are Davies et al. 2018 Table 2: pre-silicon "
              "simulations at 0.75 V, minimum energies and maximum times; its static power and reset energy "
              "are Frady et al. 2020's board measurements at an unstated voltage. Mixing the two is a known "
              "risk.",
              "- A step's events are spread over a layer's cores in proportion to each core's exact share "
              "over the run; active updates evenly. Figures are for the mean sample.",
              "- The host's first layer is priced as 45 nm FP32 MACs; the host's time is not counted (it is "
              "assumed to keep up).",
              "- As deployed, the host resets every chip between samples (Frady et al. 2020's measured reset "
              "energy per chip, Table 2); streamed, the neurons reset themselves within their update and no "
              "figure is charged for it (none is published).",
              "- The placement uses as few cores as the limits allow. A core updates its neurons one after "
              "another, so a full core makes a long step: Loihi 2's fitted limit is 2,700 neurons a core (the "
              "hardware holds up to 8,192), and fewer chips can mean a slower step and more static energy. "
              "`--chip-param loihi2.neurons_per_core=1024` prices the other trade."]
    if "loihi_sanafe" in maps:
        lines += ["- The silicon-calibrated column takes SANA-FE's Loihi constants (Boyle et al., IEEE TCAD "
                  "2025; ICONS 2023; SANA-FE 2.2.9's loihi.yaml) and its rule that a core's neuron and "
                  "synaptic work overlap (the larger counts). SANA-FE's own event-driven schedule, which also "
                  "waits for each spike to be generated before it is processed and models network congestion, "
                  "gives a longer step than either rule; `bench/sanafe_check.py` runs SANA-FE on this mapping "
                  "and prints both. Both columns add the same measured static power (Frady 2020); SANA-FE "
                  "models none. SANA-FE counts a neuron as updated when its potential, input or bias is "
                  "nonzero, spikefold when its synaptic input is."]
    lines += ["- Loihi 2's per-operation times and energies and its placement limits are fitted on Intel's "
              "measured run of lava-dl's PilotNet LIF on one Loihi 2 (152.85 µs per step, 1.094 mJ dynamic per "
              "inference, 74 cores), where spikefold's own run of that network comes out within 1.5x of Intel's "
              "cores, layer by layer, and at Intel's time and energy by construction (`bench/loihi2_silicon.py`, "
              "`bench/results/loihi2_silicon.md`). A fit on one network: other networks are predictions. Its "
              "static power is Intel's measurement. Loihi's figures carried over stay as a what-if "
              "(`deploy/map.py --profile loihi2_carryover`)."]
    for n in names:
        lines += ["", f"{maps[n]['label']}: every figure (override with `--chip-param {n}.NAME=VALUE`; fitted: on "
                  "the measurement named; assumed: no source gives it).", "",
                  "| figure | value | unit | source | kind |", "|---|---|---|---|---|"]
        for k, f in maps[n]["figures"].items():
            kind = f.get("kind") or ("assumed" if f["assumed"] else "published")
            if kind == "fitted":
                kind = f"fitted on {f['fitted'].split(':')[0]}"
            source = f["source"].replace("|", "/")
            lines.append(f"| `{k}` | {f['value']:g} | {f['unit']} | {source} | {kind} |")
    return lines + [""]


def range_markdown(r: dict) -> list:
    """The chip-vs-ANN comparison as a range: Loihi's two models, Loihi 2's static power span, and
    the single constants that turn each profile's verdict (report.json's "chip_ranges")."""
    cr = r.get("chip_ranges")
    if not cr:
        return []
    us = lambda pj: f"{pj / 1e6:.4g} µJ"
    lines = ["", "Across the two models of Loihi (" + " and ".join(f"{m}" for n, m in cr["models"].items()
                                                          if n in ("loihi", "loihi_sanafe")) + "), both with the "
             "same measured static power:"]
    for v, x in cr["loihi_models"].items():
        lines.append(f"- Loihi, {v.replace('_', ' ')}: {us(x['pj'][0])} to {us(x['pj'][1])} per inference, "
                     f"{x['ann_45nm'][0]:.3g}x to {x['ann_45nm'][1]:.3g}x the FP32 ANN, "
                     f"{x['ann_int8_45nm'][0]:.3g}x to {x['ann_int8_45nm'][1]:.3g}x the INT8 ANN.")
    s = cr.get("loihi2_static")
    if s:
        lines += ["", f"Loihi 2's static power, from {s['mw'][0]:.1f} to {s['mw'][1]:.1f} mW per chip "
                  f"({s['source']}):"]
        for v in ("as_deployed", "streamed"):
            x = s[v]
            lines.append(f"- Loihi 2, {v.replace('_', ' ')}: {us(x['pj'][0])} to {us(x['pj'][1])}, "
                         f"{x['ann_45nm'][0]:.3g}x to {x['ann_45nm'][1]:.3g}x the FP32 ANN, "
                         f"{x['ann_int8_45nm'][0]:.3g}x to {x['ann_int8_45nm'][1]:.3g}x the INT8 ANN.")
    lines += ["", "Sensitivity: the single constants that, moved to the other end of the span their sources "
              "give (Loihi: Davies 2018 vs SANA-FE's file; Loihi 2: Hala Point's throughput and all-in energy per "
              "synaptic op, Davies 2018's times and Intel's measured runs, around the figures fitted on Intel's "
              "PilotNet LIF run), turn the verdict:"]
    labels = {"ann_45nm": "FP32 ANN", "ann_int8_45nm": "INT8 ANN"}
    for name, per in cr["sensitivity"].items():
        for v, bs in per.items():
            parts = []
            for b, x in bs.items():
                verdict = "cheaper" if x["cheaper"] else "dearer"
                turns = ", ".join(f"`{k}` = {val:g} ({ratio:.3g}x)" for k, val, ratio in x["turns"])
                parts.append(f"vs the {labels[b]} {verdict} ({x['ratio']:.3g}x): " +
                             (f"turned by {turns}" if turns else "no single constant turns it"))
            lines.append(f"- {r['chip_mapping'][name]['label']}, {v.replace('_', ' ')}: " + "; ".join(parts) + ".")
    return lines


def streamed_run(c: dict) -> str:
    """How the streamed figures were obtained (report.json operations_per_inference.chip)."""
    run = c["streamed"].get("run", "measured")
    return ("measured (the simulator's mode \"window\", which is the streamed run in Lava spike for spike; the "
            "pipeline's filling, depth steps once per stream, not charged)") if run == "measured" else run


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
    lines += ["", "![firing rates](firing_rates.png)", ""] + divergence_markdown(r) + ["## Operations and energy per inference", "",
              f"Chip, as deployed ({c['as_deployed']['steps']} steps): {c['as_deployed']['synaptic_events']:,.0f} "
              f"synaptic events, {c['as_deployed']['neuron_updates']:,.0f} neuron updates; streamed: "
              f"{c['streamed']['synaptic_events']:,.0f} and {c['streamed']['neuron_updates']:,.0f} "
              f"({streamed_run(c)}); host "
              f"{c['host_macs']:,.0f} MACs. ANN baseline: {r['operations_per_inference']['ann']['macs']:,.0f} MACs. "
              "The syops-counter and NeuroBench conventions need the PyTorch network (give its checkpoint).", "",
              "| convention | counted on | energy |", "|---|---|---|"]
    lines += [f"| {v['label']} | {v['network']} | {v['pj'] / 1e6:.4g} µJ |" for v in r["energy"].values()]
    lines += ["", "![energy](energy.png)", ""]
    return "\n".join(lines + chip_markdown(r))


def netx_markdown(r: dict) -> str:
    """report.md for a lava-dl netx file (simulate/report_netx.py): the chip alone."""
    acc, c = r["accuracy"], r["operations_per_inference"]["chip"]
    lines = [f"# spikefold report: {r['netx']} on {r['inputs']}", "",
             f"Made by `{r['command']}` in {r['seconds']} s. {r['samples']} samples, T = {r['timesteps']} steps "
             f"({r['steps']} per sample as lava-dl runs the file). A lava-dl netx file: its integer weights and "
             "parameters are the program (no requantisation), and it carries no float network, so there is no "
             "float accuracy, agreement or divergence here.", "", "## Accuracy", "",
             "No labels given: predictions only (argmax of the readout summed over every step, as lava-dl's "
             "tutorials read it)." if acc is None else
             f"Chip (Loihi fixed point, bit-accurate simulator, as lava-dl runs the file): {acc['chip']:.2f}% "
             "(argmax of the readout summed over every step).", "",
             "## Firing rates (spikes per neuron per step)", "", "| layer | chip |", "|---|---|"]
    lines += [f"| {k} | {v['chip']:.4f} |" for k, v in r["firing_rates"].items()]
    lines += ["", "![firing rates](firing_rates.png)", "", "## Operations and energy per inference", "",
              f"Chip, as deployed ({c['as_deployed']['steps']} steps): {c['as_deployed']['synaptic_events']:,.0f} "
              f"synaptic events, {c['as_deployed']['neuron_updates']:,.0f} neuron updates; streamed: "
              f"{c['streamed']['synaptic_events']:,.0f} and {c['streamed']['neuron_updates']:,.0f} "
              f"({streamed_run(c)}). ANN baseline: {r['operations_per_inference']['ann']['macs']:,.0f} MACs "
              "(the file's dense and conv layers). The syops-counter and NeuroBench conventions need a PyTorch "
              "network.", "", "| convention | counted on | energy |", "|---|---|---|"]
    lines += [f"| {v['label']} | {v['network']} | {v['pj'] / 1e6:.4g} µJ |" for v in r["energy"].values()]
    lines += ["", "![energy](energy.png)", ""]
    return "\n".join(lines + chip_markdown(r))


def divergence_markdown(r: dict) -> list:
    """The per-layer spike agreement table and where the chip first parts from the float graph."""
    d = r["divergence"]
    pct = lambda v: "-" if v is None else f"{v:.3f}%"
    first = d["first_below_99"]
    lines = ["## Where float and chip part ways", "",
             "Spikes that agree per layer, over every step, sample and neuron of the T-step window: the "
             "checkpoint against its folded graph (what folding changed) and the folded graph against the "
             "chip (what quantisation changed; the chip's spikes at the layer's pipeline offset).", "",
             "| layer | neurons | checkpoint vs folded | folded vs chip |", "|---|---|---|---|"]
    lines += [f"| {row['layer']} | {row['neurons']:,} | {pct(row['checkpoint_vs_folded'])} | "
              f"{pct(row['folded_vs_chip'])} |" for row in d["layers"]]
    lines += ["", (f"First layer below 99 %: **{first['layer']}** ({first['comparison'].replace('_', ' ')}, "
                   f"{first['agreement']:.3f}%)." if first else
                   "Every layer agrees to at least 99 % in both comparisons."),
              "", "![divergence](divergence.png)", ""]
    return lines
