"""The simulator's full mode (what Lava runs, the report's "as deployed") with and without skipping
each layer's steps at rest, against the window mode, in one process.

    python bench/full_mode.py [--nets res20m,resnet18] [--batch 16] [--repeats 2]

Networks as bench/sim_speed.py builds them (random weights, BatchNorm settled).  "every step"
is the same Simulator with `first_active` set to 0 for every layer, i.e. each layer computed from
step 0; the readouts must be identical (the script fails otherwise).
"""
from __future__ import annotations

import sys

import torch

from sim_speed import best_of, build  # bench/ is on a bench script's path: one builder, one timer
from spikefold.simulate.engine import Simulator
from spikefold.common.cli import ArgumentParser, command, positive_int


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", default="res20m,resnet18")
    p.add_argument("--batch", type=positive_int, default=16)
    p.add_argument("--repeats", type=positive_int, default=2)
    args = p.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, best of {args.repeats}")
    ok = True
    for arch in args.nets.split(","):
        _, x, program = build(arch, "lif", args.batch)
        skip, every = Simulator(program), Simulator(program)
        every.first_active = dict.fromkeys(every.first_active, 0)
        same = torch.equal(skip.run(x).readout, every.run(x).readout)
        ok = ok and same
        t_skip = best_of(lambda: skip.run(x, mode="full"), args.repeats)
        t_every = best_of(lambda: every.run(x, mode="full"), args.repeats)
        t_window = best_of(lambda: skip.run(x, mode="window"), args.repeats)
        print(f"{arch} (depth {program.depth}, {program.steps} steps): full, every step {t_every:.2f} s; "
              f"full, rest skipped {t_skip:.2f} s ({t_skip / t_every:.2f}x); window {t_window:.2f} s; "
              f"same readout: {same}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
