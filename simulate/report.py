"""The report users come for: what a trained network does on the chip, next to the GPU.

    python simulate/report.py ckpt.pt [--nir model.nir] [--data digits] [--out DIR]
    python simulate/report.py --nir graph.nir --dt 1e-3 --inputs x.npz          # any NIR graph alone
    python simulate/report.py --nir network.net --inputs frames.npz --timesteps 16   # a lava-dl netx file

Writes DIR/report.json, DIR/report.md and PNG plots: accuracy of the float network
(on CUDA when present, else CPU, and the report says which), of the folded float
graph, and of the bit-accurate chip simulation, with their prediction agreement;
firing rates per layer; where float and chip part ways (spike agreement per layer,
simulate/divergence.py); operations and energy per inference under five conventions,
each counted on the network it names: (a) syops-counter's (the paper's Table 7) and
(b) NeuroBench's effective synaptic operations on the network as built, (c) the chip's
events x Loihi constants on the deployed program, as deployed and streamed, (d) the
network's conv and linear layers as an ANN, (e) memory-aware 45 nm figures
(simulate/counters/network.py, chip/counts.py, simulate/counters/energy.py).
Without --nir the checkpoint is folded here (calibrated, no fine-tune).
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import shlex
import sys
from pathlib import Path


from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.common import distributed, validate
from spikefold.common.cli import ArgumentParser, command, fail, nonneg_int, positive_float, positive_int
from spikefold.compile.nir_io import DT_HELP, NIRFormatError
from spikefold.deploy.cli_common import (add_limit_args, add_netx_args, load_graph_and_inputs, netx_inputs,
                                        read_netx_args)
from spikefold.deploy.quantize import quantize_named
from spikefold.models.checkpoint import CheckpointError
from spikefold.models.data import DatasetNotFound
from spikefold.deploy.samples import Samples
from spikefold.simulate.report_build import (GRAPH_OUTPUTS, NETX_OUTPUTS, ReportOptions, describe, report_checkpoint,
                                             report_graph)
from spikefold.simulate.report_netx import report_netx


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", default=None,
                   help="trained checkpoint (leave out for a NIR graph alone, --nir: then the float "
                        "reference is the graph itself, run in spikefold's executor)")
    p.add_argument("--nir", default=None, help="folded graph from compile/to_nir.py (default: fold here), "
                                               "any NIR graph, or a lava-dl netx file (.net)")
    p.add_argument("--dt", type=positive_float, default=None, help=DT_HELP)
    p.add_argument("--inputs", default=None, help="your own inputs (.npy x or .npz x, y), as simulate/run.py")
    p.add_argument("--timesteps", type=validate.timesteps_arg, default=None, help="steps per sample for static --inputs")
    p.add_argument("--data", default=None, help="dataset (default: the checkpoint's)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--samples", type=nonneg_int, default=0, help="test samples (0: the whole split)")
    p.add_argument("--calib-samples", type=positive_int, default=256)
    p.add_argument("--batch-size", type=positive_int, default=128,
                   help="samples per batch: memory grows with it, not with the test split")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where the float network and the chip simulator run (auto: CUDA when present); "
                        "under torchrun each process uses GPU LOCAL_RANK")
    add_limit_args(p)
    add_netx_args(p)
    p.add_argument("--chip-param", action="append", default=[], metavar="[PROFILE.]NAME=VALUE",
                   help="replace a chip figure (chip/hardware.py) in every profile or in one, "
                        "e.g. loihi2.synop_pj=10; the report marks it as yours")
    p.add_argument("--sram-pj", type=positive_float, default=ENERGY_PJ["sram_8kb_45nm"],
                   help="pJ per SRAM access in the memory-aware 45 nm conventions (Horowitz 2014: "
                        "10 for 8 KB, 20 for 32 KB, 100 for 1 MB)")
    p.add_argument("--out", default=None, help="output directory (default: beside the checkpoint)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.checkpoint is None and args.nir is None:
        p.error("give a checkpoint, a NIR graph (--nir), or both")
    if args.checkpoint is not None and (args.inputs or args.dt or args.reset_interval or args.reset_offset):
        p.error("--inputs, --dt, --reset-interval and --reset-offset are for a NIR graph or netx file alone "
                "(leave out the checkpoint)")
    return args


def options(args) -> ReportOptions:
    return ReportOptions(data=args.data, data_root=args.data_root, samples=args.samples,
                         calib_samples=args.calib_samples, batch_size=args.batch_size, device=args.device,
                         max_mb=args.max_mb, max_work_mb=args.max_work_mb, chip_params=tuple(args.chip_param), sram_pj=args.sram_pj,
                         quiet=args.quiet)


@command
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        command = "python simulate/report.py " + " ".join(shlex.quote(a) for a in argv)
        if args.checkpoint:
            r = report_checkpoint(args.checkpoint, args.nir, args.out, options(args), command)
        else:
            args.nir_file = args.nir
            out = validate.output_path(args.out, "--out", Path(args.nir).parent / "report")
            validate.outputs([out], [args.nir, args.inputs], directory=True)
            program = read_netx_args(args)                 # None: a NIR graph
            validate.outputs([out / f for f in (GRAPH_OUTPUTS if program is None else NETX_OUTPUTS)],
                             [args.nir, args.inputs])
            if program is not None:
                x, y = netx_inputs(args, program)
                r = report_netx(args.nir, program, Samples(x=x, y=y, name=args.inputs), out, options(args), command)
            else:
                graph, samples, _ = load_graph_and_inputs(args, lazy=True)
                r = report_graph(graph, quantize_named(graph, args.nir), samples, out, options(args), command,
                                 args.nir)
    except (CheckpointError, NIRFormatError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    finally:
        distributed.finish()
    if r is None:                                    # a rank other than 0 under torchrun
        return 0
    print(describe(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
