"""Write a NIR network as a lava-dl netx HDF5 file (chains of conv/dense layers with CUBA neurons).

    python deploy/to_netx.py model.nir [-o model.net] [--samples N] [--data NAME | --inputs FILE]

Residual networks (a neuron fed by several synapse layers) cannot be expressed in
netx and are refused, naming the first such layer; nothing is written then.

netx has no bias start schedule (deploy/netx.py); its self-resetting neurons do that job when
the file is run as lava-dl streams a test set (Network(..., reset_interval=T, reset_offset=1),
the numbers the file records and the command prints).  After writing, the command runs the
network the file describes, with and without resets, and the chip program side by side on the
file's test split (or --inputs) and prints their accuracies, so that what the export changes
is a figure, not a surprise.  A file naming no dataset is written all the same,
with the accuracy left unmeasured (pass --data or --inputs).
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys

import numpy as np
import torch
from pathlib import Path

from spikefold.compile.nir_io import NIRFormatError
from spikefold.deploy.cli_common import add_nir_args, load_graph_and_inputs, read_nir
from spikefold.deploy.samples import test_samples
from spikefold.deploy.lava_compat import require_lava
from spikefold.deploy.netx import NETX_RESET_OFFSET, NetxUnsupported, chain, write_netx
from spikefold.deploy.quantize import quantize
from spikefold.models.data import DatasetNotFound
from spikefold.simulate.engine import Simulator
from spikefold.simulate.netx_readout import netx_readout
from spikefold.common.atomic import atomic_write
from spikefold.common import validate
from spikefold.common.cli import ArgumentParser, command, fail


def run_in_netx(path, program, x):
    """The readout v (B, K) of the netx file at `path` run in lava-dl netx (Lava present)."""
    from spikefold.deploy.lava_graph import run_netx_stream
    return run_netx_stream(path, program, x)


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    add_nir_args(p, 0, "test samples for the accuracy check (0: the whole split)")
    p.add_argument("-o", "--output", default=None, help="netx file (default: beside the NIR file, .net)")
    p.add_argument("--lava", type=int, default=0, metavar="N",
                   help="also run the written file in lava-dl netx on the first N samples, streamed with "
                        "its resets, and print its accuracy (needs the lava extra)")
    args = p.parse_args(argv)
    out = validate.output_path(args.output, "-o", Path(args.nir_file).with_suffix(".net"))
    validate.outputs([out], [args.nir_file])
    if args.lava < 0:
        fail(f"--lava: {args.lava} samples: must be 0 or more")
    measured, x = None, None
    try:
        if args.lava:
            require_lava()                   # before anything is written
        if args.inputs or args.data:
            graph, x, y, name = load_graph_and_inputs(args, on_chip=False)   # netx's input: the host's
        else:
            graph = read_nir(args.nir_file, args.max_mb, args.dt, args.timesteps)
            if graph.meta.get("nir", {}).get("dataset"):
                samples = test_samples(graph, None, args.data_root, args.samples, args.nir_file)
                (x, y), name = samples.batch(range(len(samples))), samples.name
        if args.lava and x is None:
            raise ValueError("--lava needs samples: the file names no dataset (pass --data or --inputs)")
        program = quantize(graph, netx=True)
        layers = chain(program)
        if x is not None:
            chip = Simulator(program).run(x, mode="window").logits.mean(0).argmax(1)
            streamed, unreset = (netx_readout(program, x, reset).argmax(1) for reset in (True, False))
            measured = (name, len(x), y, chip, streamed, unreset)
        k, lava_v = min(args.lava, len(x)) if args.lava else 0, []

        def write(tmp):
            write_netx(program, tmp)
            if k:        # lava-dl reads the file itself: run while it is a temporary, so that an
                try:     # interrupted or failed run leaves no file
                    lava_v.append(run_in_netx(tmp, program, x[:k]))
                except (ValueError, OSError) as e:
                    why = str(e).splitlines()[0].replace(str(tmp), str(out))   # the file the user named
                    raise _LavaFailed(f"{out}: lava-dl netx: {why}") from None
        atomic_write(out, write)
    except (NIRFormatError, _LavaFailed) as e:
        fail(str(e))
    except (NetxUnsupported, DatasetNotFound, ValueError) as e:
        fail(f"{args.nir_file}: {str(e).splitlines()[0]}")
    print(f"wrote {out}: {len(layers)} synapse layers after the host-fed layer "
          f"{program.host.dst} {program.neurons[program.host.dst].shape}, whose spikes are its input")
    print(f"run it as lava-dl streams a test set: Network('{out}', reset_interval={program.timesteps}, "
          f"reset_offset={NETX_RESET_OFFSET}) (each layer zeroed on the step its sample's data reaches it: "
          f"the program's bias schedule); the readout is the last layer's v at each sample's end")
    if measured is None:
        print("  the exported network's accuracy is not measured: the file names no dataset (pass --data or --inputs)")
        return 0
    name, n, y, chip, streamed, unreset = measured
    same = lambda pred: 100 * float((chip == pred).float().mean())
    if y is None:
        print(f"  {name}, {n} samples: the exported network predicts as the chip program on {same(streamed):.2f}% "
              f"with resets, {same(unreset):.2f}% without")
    else:
        acc = lambda pred: 100 * float((pred == y).float().mean())
        print(f"  {name}, {n} samples: exported netx network {acc(streamed):.2f}% with resets (same prediction "
              f"as the chip program {same(streamed):.2f}%), {acc(unreset):.2f}% without (every bias on from "
              f"step 0); chip program {acc(chip):.2f}%")
    if k:
        v = lava_v[0]
        equal = int(sum(np.array_equal(a, b) for a, b in zip(v, netx_readout(program, x[:k], True).numpy())))
        pred = torch.as_tensor(v).argmax(1)
        score = ("" if y is None else f"accuracy {100 * float((pred == y[:k]).float().mean()):.2f}% "
                 f"(chip program {100 * float((chip[:k] == y[:k]).float().mean()):.2f}%), ")
        print(f"  lava-dl netx, the file streamed with its resets on {k} samples: {score}same prediction as "
              f"the chip program on {100 * float((pred == chip[:k]).float().mean()):.2f}%, readout v equal "
              f"to the measured one's on {equal}/{k}")
        if equal != k:                # spikefold's model of netx (simulate/netx_readout.py) is wrong
            print(f"error: {out}: lava-dl netx's readout differs from simulate/netx_readout.py's on {k - equal} "
                  f"of {k} samples; the exported accuracy above is not netx's (a spikefold bug: please report "
                  f"it with this file)", file=sys.stderr)
            return 1
    return 0


class _LavaFailed(RuntimeError):
    """lava-dl netx could not run the written file; str(e) names it."""


if __name__ == "__main__":
    sys.exit(main())
