"""The chip section's figures for paper-sized networks: placement, time and energy per inference on
Loihi and Loihi 2 for the demo checkpoint and for STAA res20m and vgg13 at CIFAR-100 shape.

    python bench/chip_cost.py [--demo runs/demo/ckpt.pt] [--samples 16] [--timesteps 4]

res20m and vgg13 carry seeded random weights (no CIFAR-100 here), their BatchNorm statistics
set from 32 random uniform images (so the layers fire rather than stay silent), calibrated and
folded on the same images and run on others; their firing rates are those of random weights on
random images, so the time and energy figures show the model at work, not what a trained
network spends.  The
placement (cores, chips) depends only on the shapes and the weights' bit widths.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from spikefold.compile.pipeline import lower
from spikefold.chip.hardware import PROFILES
from spikefold.chip.placement import map_program
from spikefold.deploy.quantize import quantize
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.data import load_dataset
from spikefold.chip.cost import VARIANTS, ChipModel
from spikefold.simulate.engine import Simulator
from spikefold.chip.counts import ChipAccumulator
from spikefold.simulate.counters.paper import paper_shaped
from spikefold.common.cli import ArgumentParser, command, positive_int


def program_of(arch: str, timesteps: int, samples: int, seed: int = 0):
    model, calib = paper_shaped(arch, timesteps, seed)
    program = quantize(lower(model, (3, 32, 32), "calibrated", [calib]))
    return program, torch.rand(samples, 3, 32, 32)


def demo_program(path: str, samples: int):
    model, _ = model_from_checkpoint(path)
    cfg = model.cfg
    train = load_dataset("digits", None, True, cfg.timesteps, cfg.input_size)
    calib = [torch.stack([train[i][0] for i in range(128)])]
    test = load_dataset("digits", None, False, cfg.timesteps, cfg.input_size)
    program = quantize(lower(model, (cfg.in_channels, 8, 8), "calibrated", calib))
    return program, torch.stack([test[i][0] for i in range(samples)])


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--demo", default="runs/demo/ckpt.pt", help="demo checkpoint ('' to skip)")
    p.add_argument("--samples", type=positive_int, default=16)
    p.add_argument("--timesteps", type=positive_int, default=4)
    args = p.parse_args(argv)
    nets = [("res20m STAA, CIFAR-100 shape", lambda: program_of("res20m", args.timesteps, args.samples)),
            ("vgg13 STAA, CIFAR-100 shape", lambda: program_of("vgg13", args.timesteps, args.samples))]
    if args.demo:
        nets.insert(0, (f"demo digitnet STAA ({args.demo})", lambda: demo_program(args.demo, args.samples)))
    for label, build in tqdm(nets, desc="networks", leave=False):
        t0 = time.perf_counter()
        program, x = build()
        acc = ChipAccumulator(program)
        sim = Simulator(program)
        for i in range(0, len(x), 8):
            acc.add(sim.run(x[i:i + 8], mode="full"))
        rates = acc.rates()
        sizes = {n: float(np.prod(l.shape)) for n, l in program.neurons.items() if not l.relay}
        mean = sum(rates[n] * v for n, v in sizes.items()) / sum(sizes.values())
        print(f"\n{label}: {acc.samples} samples, T = {program.timesteps}, depth {program.depth}, "
              f"{sum(l.relay for l in program.neurons.values())} relay layers, mean firing rate {mean:.4f}; "
              f"as_deployed: one sample at a time, host resets; streamed: {acc.result()['streamed']['run']}")
        for name, profile in PROFILES.items():
            m = map_program(program, profile)
            model = ChipModel(program, m, acc)
            print(f"  {profile.label}: {len(m.cores)} cores, {m.chips} chip(s), {m.tiles} tiles, "
                  f"barrier {model.barrier:.0f} ns; {len(m.violations)} limit(s) broken")
            for v in m.violations:
                print(f"    cannot be placed as it is: {v}")
            for v in VARIANTS:
                c = model.cost(v)
                s = c["split_pj"]
                print(f"    {v:<11} {c['time_ns'] / 1e3:10.2f} us per inference ({c['inferences_per_s']:9.1f}/s), "
                      f"{c['pj'] / 1e6:9.3f} uJ = dynamic {s['dynamic'] / 1e6:.3f} + static "
                      f"{s['static'] / 1e6:.3f} + host {s['host'] / 1e6:.3f}")
        print(f"  ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
