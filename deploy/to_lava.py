"""Run a NIR network on Lava's bit-accurate Loihi simulator.

    python deploy/to_lava.py model.nir --samples 20 [--data digits] [--data-root DIR]
    python deploy/to_lava.py g.nir --dt 1e-3 --inputs x.npz --samples 5     # any NIR graph, your inputs
    python deploy/to_lava.py model.nir --samples 100 --stream                # back to back, self-resetting
    python deploy/to_lava.py network.net --inputs frames.npz --timesteps 8    # a lava-dl netx file in lava-dl

Quantises the graph to Loihi fixed point (deploy/quantize.py), builds the Lava
process graph (deploy/lava_graph.py), runs the first N test samples through it with
Loihi2SimCfg(select_tag="fixed_pt"), and prints each prediction, the accuracy, and
whether the fast simulator (simulate/engine.py) produced the identical readout.  By default
one sample at a time, the host resetting the chip between samples (as deployed); with
--stream the samples back to back through self-resetting neurons, as lava-dl runs a test set
(deploy/lava_graph.py run_lava_stream), checked against the simulator's mode "window" and,
per sample, against the one-at-a-time readout.
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys

import numpy as np

from spikefold.chip.program import Program
from spikefold.compile.nir_io import NIRFormatError
from spikefold.deploy.cli_common import add_nir_args, load_graph_and_inputs, netx_inputs, read_netx_args
from spikefold.deploy.quantize import quantize_named
from spikefold.models.data import DatasetNotFound
from spikefold.simulate.lava_check import lava_check, netx_lava_check
from spikefold.common.cli import ArgumentParser, InputError, command, fail


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    add_nir_args(p, 20, "test samples to run on Lava (0: the whole split)")
    p.add_argument("--quiet", action="store_true", help="no per-sample lines")
    p.add_argument("--stream", action="store_true",
                   help="run the samples back to back through self-resetting neurons (no host resets)")
    return p.parse_args(argv)


def netx_main(args, program: Program) -> int:
    """to_lava on a lava-dl netx file: --inputs are the input layer's bias frames."""
    x, y = netx_inputs(args, program)
    r = netx_lava_check(args.nir_file, program, x, **({"reset_interval": args.reset_interval,
                                                         "reset_offset": args.reset_offset}
                                                        if args.reset_interval else {}))
    acc = "" if y is None else f", accuracy {100 * np.mean(np.array(r['lava']) == y.numpy()):.2f}%"
    print(f"Lava (lava-dl's netx Network, fixed_pt) on {r['samples']} samples of {args.inputs}, {program.steps} "
          f"steps each{acc}, {r['seconds']:.1f} s; every block's spikes identical to the fast simulator's on "
          f"{r['identical']}/{r['samples']}")
    if r["identical"] != r["samples"]:
        print(f"error: {args.nir_file}: the fast simulator's spikes differ from Lava's on "
              f"{r['samples'] - r['identical']} of {r['samples']} samples (a spikefold bug: please report it with "
              f"this file)", file=sys.stderr)
        return 1
    return 0


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if (program := read_netx_args(args)) is not None:
            return netx_main(args, program)
        graph, x, y, dataset = load_graph_and_inputs(args)
        program = quantize_named(graph, args.nir_file)
        if args.stream and program.why_not_streamed():
            raise InputError(f"{args.nir_file}: --stream: {program.why_not_streamed()}")
        r = lava_check(graph, x, y, program, dataset, args.stream)
    except (NIRFormatError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    if not args.quiet:
        labels = r["labels"] or ["-"] * r["samples"]
        for i, (label, p, f) in enumerate(zip(labels, r["lava"], r["float"])):
            print(f"sample {i:4d}: label {label:>3}  chip {p:3d}  float {f:3d}")
    scores = (f"accuracy {r['accuracy']:.2f}% (float graph {r['float_accuracy']:.2f}%)" if r["labels"] is not None
              else f"no labels; same prediction as the float graph on {r['agreement']:.2f}%, "
                   f"{r['spikes_per_sample']:,.0f} spikes per sample")
    how = "streamed back to back, self-resetting" if r["stream"] else "one at a time, host resets"
    print(f"Lava (fixed_pt, {how}) on {r['samples']} samples of {r['dataset']}: {scores}, {r['seconds']:.1f} s; "
          f"fast simulator readout identical on {r['simulator_identical']}/{r['samples']}; pipeline depth "
          f"{r['depth']} steps, {r['relays']} relay or helper layers, {r['clips']} clipped values")
    if r["stream"]:
        print(f"streamed readout equal to the one-at-a-time run's on {r['one_at_a_time_identical']}/{r['samples']} "
              f"samples")
    for key, what in (("simulator_identical", "the fast simulator's readout differs from Lava's"),
                      ("one_at_a_time_identical", "the streamed readout differs from the one-at-a-time run's")):
        if r[key] is not None and r[key] != r["samples"]:   # not the user's input: spikefold's promise broken
            print(f"error: {args.nir_file}: {what} on {r['samples'] - r[key]} of {r['samples']} samples; the "
                  f"figures above are not the chip's (a spikefold bug: please report it with this file)",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
