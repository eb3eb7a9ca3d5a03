"""The report for a lava-dl netx file (deploy/netx_read.py): its integer program as written, on the
user's inputs (the input layer's bias frames), the chip alone, with no float network beside it.

    report_netx   evaluate (simulate/evaluate.py, graph None), build the dict, write the files

What it holds: the chip's accuracy (when labels are given) and predictions as lava-dl makes them
(argmax of the readout summed over every step), firing rates per layer, the chip's operations,
placement, time and energy on every profile of chip/hardware.py (the same pricing as every other
report, chip/cost.py), and the ANN baseline counted on the file's own dense and conv layers.
What it cannot hold: a float accuracy, agreement or divergence (a netx file carries no float
network), and the syops-counter and NeuroBench conventions (they count a PyTorch network).
"""
from __future__ import annotations

import time

import numpy as np

from spikefold.chip.hardware import profiles_with_overrides
from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.chip.program import Program
from spikefold.common import distributed
from spikefold.deploy.samples import Samples
from spikefold.simulate.evaluate import Evaluation, evaluate
from spikefold.simulate.report_build import chip_sections, energies_without_a_model, price, write_report

NETWORK = "the netx file's dense and conv layers as an ANN"


def program_macs(program: Program) -> int:
    """Multiply-accumulates of the program's synapse layers run as an ANN, one inference step:
    a dense layer out x in, a conv layer its output size x its kernel's fan-in."""
    return int(sum(int(np.prod(s.out_shape)) * int(np.prod(s.weight.shape[1:])) for s in program.synapses.values()))


def netx_report(ev: Evaluation, program: Program, profiles: dict, sram_pj: float = ENERGY_PJ["sram_8kb_45nm"],
                **about) -> tuple[dict, dict]:
    """(report, {profile name: (profile, mapping, ChipModel)}) for a netx program evaluated alone.
    `about`: the first fields, in order (command, netx, inputs)."""
    T, n, macs = program.timesteps, ev.n, program_macs(program)
    models, costs = price(program, ev.chip, profiles)
    outputs = sum(int(np.prod(l.shape)) for l in program.neurons.values()) * T
    energy = energies_without_a_model(macs, outputs, T, costs, sram_pj, NETWORK)
    rates, rate_chip = ev.chip.rates(), ev.chip.mean_rate()
    acc = ev.accuracy()
    report = {
        **about, "samples": n, "timesteps": T, "steps": program.steps,
        "accuracy": None if acc is None else {"chip": acc["chip"]},
        "predictions": ev.preds["chip"].tolist(),
        "firing_rates": {k: {"chip": rates[k], "float": float("nan")} for k in program.neurons},
        "operations_per_inference": {"chip": {"network": "the netx file's integer program",
                                              **{k: v for k, v in ev.chip.result().items() if k != "rates"}},
                                     "ann": {"network": NETWORK, "macs": macs}},
        **chip_sections(program, models, costs, energy, rate_chip, sram_pj),
    }
    return report, models


def report_netx(path, program: Program, samples: Samples, out, options, command: str = "") -> dict | None:
    """The report for the netx file `path` (read into `program`) on `samples` (its input layer's
    bias frames), written into `out` (simulate/report_build.py write_report); None on a rank other
    than 0 under torchrun."""
    o, t0 = options, time.perf_counter()
    rank, world, device = distributed.setup(o.device)
    ev = evaluate(None, program, samples, None, o.batch_size, device, o.quiet or rank != 0, rank, world,
                  o.max_work_mb)
    if ev is None:
        return None
    report, models = netx_report(ev, program, profiles_with_overrides(list(o.chip_params)), o.sram_pj,
                                 command=command, netx=str(path), inputs=samples.name)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    write_report(out, report, models)
    return {**report, "out": str(out)}
