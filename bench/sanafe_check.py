"""spikefold's chip time and energy against SANA-FE's, on the same mapping and the same spikes.

    make sanafe                                   # once: SANA-FE 2.2.9 into .venv/sanafe (GPL-3.0, apart)
    python bench/sanafe_check.py [--demo runs/demo/ckpt.pt] [--samples 8] [--json F]
    python bench/sanafe_check.py --arch res20m [--window body_9_neuron:body_10_neuron] [--samples 4]

The deployed program (bench/chip_cost.py builds it) is placed on Loihi by chip/placement.py and
built in SANA-FE neuron for neuron on the same cores: the same integer weights in the units of
bench/sanafe_compare.py, every structural synapse (zero weights too, as Lava stores them), the
host's first layer injected exactly as per-step biases of its destination layer, each layer's
bias switched on at its start step, the readout's accumulators on a soma that costs nothing.
Each test input runs alone for T + depth steps (as deployed) under two Loihi files made at run
time from the wheel's own sanafe/examples/loihi.yaml (never copied here):

    Davies   its figures replaced by chip/hardware.py's LOIHI (Davies 2018 Table 2): a check of
             spikefold's counting, mapping and pricing; every difference is printed and named
    calib.   SANA-FE's own calibrated figures (Boyle 2025): a second estimate, against
             chip/hardware.py's LOIHI_SANAFE, the same figures priced by chip/cost.py

Per layer: spikes (equal where a layer is current-free and nothing overflowed), synaptic events it
receives, neuron updates (SANA-FE's rule: potential, input or bias nonzero; spikefold's: synaptic
input nonzero), messages and hops its spikes send, dynamic energy, neuron and synaptic work.  In
total: SANA-FE's own energy and time per inference, and its per-core work combined by the sum and
by the max rule, and that sum walked to spikefold's one change at a time (time_split).

res20m at CIFAR shape (random weights, bench/chip_cost.py) has 227 M synapses on 2,780 cores: at
the ~920 B per synapse SANA-FE takes, some 195 GB, so only a window of consecutive layers is
built (--window FIRST:LAST, sized before building; --max-gb refuses a larger one): FIRST replayed
from the spikes spikefold recorded there, on its own cores, as forced spikes of a soma that costs
nothing (its row: spikes, messages, hops and their cost), then every layer starting after it up
to LAST.  The default window, a strided conv and a residual join (body_10), is 10.6 M synapses.
This is the only spikefold file that imports SANA-FE.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chip_cost import demo_program, program_of  # noqa: E402
from sanafe_compare import (BYTES_PER_SYNAPSE, SYNAPSE_HW, UNCOSTED, View, arch_text, bias_units,  # noqa: E402
                            check_file, current_free, davies_values, edge_count, edges, neuron_attributes, ours,
                            sanafe_rows, table)
from sanafe_time import split_table, time_split  # noqa: E402

from spikefold.chip.cost import ChipModel  # noqa: E402
from spikefold.chip.counts import ChipAccumulator  # noqa: E402
from spikefold.chip.hardware import LOIHI, LOIHI_SANAFE  # noqa: E402
from spikefold.chip.host import host_currents  # noqa: E402
from spikefold.chip.placement import map_program  # noqa: E402
from spikefold.chip.tiling import shape3  # noqa: E402
from spikefold.common.cli import ArgumentParser, command, positive_int  # noqa: E402
from spikefold.simulate.engine import Simulator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RES20M_WINDOW = "body_9_neuron:body_10_neuron"   # a strided conv and a residual join in ~8 GB


def load_sanafe():
    """SANA-FE from .venv/sanafe (`make sanafe`), never from the environment spikefold runs in."""
    where = ROOT / ".venv" / "sanafe"
    if not (where / "sanafe").is_dir():
        raise SystemExit("error: SANA-FE is not installed: run `make sanafe` (installs sanafe 2.2.9 into "
                         ".venv/sanafe, apart from spikefold: it is GPL-3.0)")
    sys.path.insert(0, str(where))
    import sanafe
    return sanafe


def build(sf, arch, view, mapping, chunk: int = 1_000_000):
    """The view (sanafe_compare.View) as a SANA-FE network on `mapping`'s cores, loaded on a chip of
    `arch`; its replayed layer and the readout on a soma that costs nothing."""
    net, groups = sf.Network(), {}
    prof = mapping.profile
    for name in view.names:
        ins = {view.synapses[k].kind for k in view.inputs_of(name)}
        if len(ins) > 1:
            raise ValueError(f"layer {name} receives synapses of kinds {sorted(ins)}: one SANA-FE unit each "
                             "is not built here")
        hw = SYNAPSE_HW[ins.pop()] if ins else SYNAPSE_HW["dense"]
        size = int(np.prod(mapping.layers[name]["shape"]))
        forced = {"threshold": 0.5, "leak_decay": 0.0, "reset": 0.0, "reset_mode": "hard"}   # fires on bias 1
        attrs = {"threshold": 1e30, "leak_decay": 1.0} if name == "readout" else forced if name == view.replay else {}
        g = net.create_neuron_group(name, size, attrs, default_synapse_hw_name=hw, log_spikes=True, log_potential=True,
                                    soma_hw_name=UNCOSTED if name in ("readout", view.replay) else "loihi_lif")
        if name not in ("readout", view.replay):
            for i, a in enumerate(neuron_attributes(view.neurons[name])):
                g.neurons[i].set_attributes(model_attributes=a)
        groups[name] = g
    for s in view.synapses.values():
        src, dst, w = edges(s)
        for i in range(0, len(src), chunk):       # in chunks: Python's lists of a whole layer are GBs
            groups[s.src].connect_neurons_sparse(groups[s.dst], {"weight": w[i:i + chunk].tolist()},
                                                 list(zip(src[i:i + chunk].tolist(), dst[i:i + chunk].tolist())))
        del src, dst, w
    cpt, ty = int(prof["cores_per_tile"]), int(prof["mesh_tiles_y"])
    core_id = {}
    for name in view.names:
        layer = mapping.layers[name]
        index = np.arange(int(np.prod(layer["shape"]))).reshape(shape3(layer["shape"]))
        for i in layer["cores"]:
            c = mapping.cores[i]
            tile, offset = c.x * ty + c.y, (i % int(prof["cores_per_chip"])) % cpt
            core_id[tile * cpt + offset] = i
            b = c.box
            for n in index[b[0]:b[1], b[2]:b[3], b[4]:b[5]].ravel().tolist():
                groups[name].neurons[n].map_to_core(arch.tiles[tile].cores[offset])
    chip = sf.SpikingChip(arch)
    chip.load(net)
    return chip, core_id


def run_sample(chip, view, drive) -> list:
    """One input alone for T + depth steps from rest; drive(t): {layer: per-neuron bias added on step
    t} (the host's currents, or the replayed layer's recorded spikes).  The traces of each step:
    SANA-FE's perf figures, messages, spikes and potentials."""
    chip.reset()
    mapped = chip.mapped_neuron_groups
    current = {name: np.zeros(int(np.prod(l.shape))) for name, l in view.neurons.items()}
    out = []
    for t in range(view.steps):
        extra = drive(t)
        for name, layer in view.neurons.items():
            want = np.zeros(len(current[name])) if name == view.replay else bias_units(layer) * (t >= layer.start)
            if name in extra:
                want = want + extra[name]
            for i in np.flatnonzero(want != current[name]).tolist():
                mapped[name][i].set_attributes(model_attributes={"bias": float(want[i])})
            current[name] = want
        r = chip.sim(1, timing_model="detailed", perf_trace=True, message_trace=True, spike_trace=True,
                     potential_trace=True)
        out.append({"perf": {k: v[0] for k, v in r["perf_trace"].items()}, "energy": r["energy"],
                    "messages": [m for q in r["message_trace"] for m in q],
                    "spikes": [(a.group_name, a.neuron_offset) for q in r["spike_trace"] for a in q],
                    "potentials": np.asarray(r["potential_trace"][0], np.float64),
                    "bias_nonzero": {k: v != 0 for k, v in current.items()}})
    for name in view.neurons:                     # back to rest: every bias off for the next input
        for i in np.flatnonzero(current[name]).tolist():
            mapped[name][i].set_attributes(model_attributes={"bias": 0.0})
    return out


def drives(view, program, x, res) -> list:
    """Per sample, drive(t) for run_sample: the host's currents into its layer for T steps (a static
    input: one frame), or the spikes spikefold recorded at the replayed layer."""
    if view.replay:
        rec = res.spikes[view.replay].reshape(view.steps, len(x), -1).numpy().astype(np.float64)
        return [lambda t, b=b: {view.replay: rec[t, b]} for b in range(len(x))]
    host, T = host_currents(program, x).numpy(), program.timesteps
    return [lambda t, h=host[:, b]: {view.host_dst: h[t if len(h) > 1 else 0].reshape(-1)} if t < T else {}
            for b in range(len(x))]


def ours_run(program, x: np.ndarray):
    """spikefold's simulator on the inputs (as deployed, spikes recorded) and its accumulator."""
    acc = ChipAccumulator(program)
    res = Simulator(program).run(x, record=True, mode="full")
    acc.add(res)
    return acc, res


def rss_gb() -> float:
    """This process's resident memory now, GB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 30


def scope(view, program, max_gb: float) -> str:
    """What is built and why not more: the window's layers (with their inputs) and synapses, and the
    memory SANA-FE would take for them and for the whole program (BYTES_PER_SYNAPSE, measured)."""
    count = lambda syns: sum(edge_count(s) for s in syns)
    here, whole = count(view.synapses.values()), count(program.synapses.values())
    total_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    lines = [f"SANA-FE builds {here:,} synapses (about {here * BYTES_PER_SYNAPSE / 2 ** 30:.1f} GB at "
             f"{BYTES_PER_SYNAPSE} B each, measured); the whole program has {whole:,} (about "
             f"{whole * BYTES_PER_SYNAPSE / 2 ** 30:.0f} GB); this machine has {total_gb:.0f} GB"]
    if view.replay:
        lines.append(f"window: {view.replay} replayed (the spikes spikefold recorded there), then:")
        for n in view.names[1:]:
            ins = ", ".join(f"{k} ({s.kind} {'x'.join(map(str, np.asarray(s.weight).shape[2:]))} stride "
                            f"{s.stride[0]}, from {s.src})" for k, s in view.synapses.items() if s.dst == n)
            lines.append(f"  {n} {tuple(view.neurons[n].shape)}: {ins}")
    if here * BYTES_PER_SYNAPSE / 2 ** 30 > max_gb:
        raise SystemExit("\n".join(lines) + f"\nerror: beyond --max-gb {max_gb:g}: choose a smaller --window")
    return "\n".join(lines)


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=("demo", "res20m"), default="demo",
                   help="the demo checkpoint, or res20m at CIFAR-100 shape with random weights (bench/chip_cost.py)")
    p.add_argument("--demo", default="runs/demo/ckpt.pt", help="the demo checkpoint (make demo writes it)")
    p.add_argument("--window", default=None, help="FIRST:LAST: build only these layers, FIRST replayed "
                   "(default: the whole demo; res20m: " + RES20M_WINDOW + ")")
    p.add_argument("--max-gb", type=float, default=10.0, help="refuse a window SANA-FE would need more memory for")
    p.add_argument("--samples", type=positive_int, default=8, help="test inputs, each run alone")
    p.add_argument("--json", default=None, help="also write every figure here")
    args = p.parse_args(argv)
    sf = load_sanafe()
    stock = (files("sanafe.examples") / "loihi.yaml").read_text()
    check_file(stock, LOIHI_SANAFE)
    if args.arch == "demo":
        program, x = demo_program(args.demo, args.samples)
    else:
        program, x = program_of("res20m", 4, args.samples)
    window = args.window or (RES20M_WINDOW if args.arch == "res20m" else None)
    view = View(program, *window.split(":")) if window else View(program)
    print(scope(view, program, args.max_gb))
    acc, res = ours_run(program, x)
    report = {"network": f"demo ({args.demo})" if args.arch == "demo" else "res20m, CIFAR-100 shape, random weights",
              "window": window, "samples": args.samples,
              "overflow": {k: res.counts["total"][k] for k in ("u_wraps", "v_saturations", "conv_wraps")},
              "current_free": {n: current_free(l) for n, l in view.neurons.items()}, "files": {}}
    for label, prof in (("Davies 2018 Table 2 file", LOIHI), ("SANA-FE calibrated file", LOIHI_SANAFE)):
        report["files"][label] = check_one(sf, stock, label, prof, view, program, x, acc, res)
    report["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"\npeak memory of this process: {report['peak_rss_gb']:.1f} GB; overflow counters {report['overflow']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=float))
    return 0


def check_one(sf, stock: str, label: str, prof, view, program, x, acc, res) -> dict:
    """One Loihi file: SANA-FE built on the profile's mapping, every sample run, the table printed."""
    mapping = map_program(program, prof)
    model = ChipModel(program, mapping, acc)
    tiles_x, tiles_y = int(prof["mesh_tiles_x"]) * mapping.chips, int(prof["mesh_tiles_y"])
    values = davies_values(prof, model.barrier) if prof is LOIHI else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loihi.yaml"
        path.write_text(arch_text(stock, tiles_x, tiles_y, values))
        arch = sf.load_arch(str(path))
    t0, before = time.perf_counter(), rss_gb()
    chip, core_id = build(sf, arch, view, mapping)
    built, loaded = time.perf_counter() - t0, rss_gb()
    traces = [run_sample(chip, view, drive) for drive in drives(view, program, x, res)]
    ran = rss_gb()
    del chip
    d = acc.per_sample("as_deployed")
    mine = ours(view, model, prof, d["fired"], {k: float(v.sum()) for k, v in d["events_per_step"].items()},
                {k: float(v.sum()) for k, v in d["active_per_step"].items()})
    theirs, totals = sanafe_rows(view, mapping, prof, core_id, traces, res.spikes, model)
    print(table(label, view, mine, theirs, totals, model))
    print(f"memory of this process: {before:.1f} GB before SANA-FE was built, {loaded:.1f} GB once loaded, "
          f"{ran:.1f} GB after the runs; built in {built:.0f} s")
    out = {"ours": mine, "sanafe": theirs, "totals": {k: v for k, v in totals.items() if k != "work"},
           "seconds_build": round(built, 1), "seconds": round(time.perf_counter() - t0, 1),
           "rss_gb": {"before": before, "loaded": loaded, "after_runs": ran}}
    host = None if view.replay else host_currents(program, x).numpy()
    out["time_split"] = time_split(view, mapping, model, core_id, traces, totals["work"], host)
    print(split_table(out["time_split"]))
    return out


if __name__ == "__main__":
    sys.exit(main())
