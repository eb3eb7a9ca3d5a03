"""What the commands that run a NIR file share: its options, the file, and its inputs (the
library behind them: deploy/samples.py)."""
from __future__ import annotations

from spikefold.common import validate
from spikefold.common.cli import nonneg_int, positive_float, positive_int
from spikefold.compile.nir_io import DT_HELP, read_nir
from spikefold.deploy.netx_read import is_netx, read_netx
from spikefold.deploy.samples import fit_inputs, inputs_on_chip, test_samples, user_inputs


def add_nir_args(p, samples_default: int, samples_help: str) -> None:
    """nir_file, --samples, --data, --data-root, --max-mb, --reset-interval, --reset-offset."""
    p.add_argument("nir_file", help="a NIR graph, or a lava-dl netx file (.net: its integer program as written)")
    p.add_argument("--samples", type=nonneg_int, default=samples_default, help=samples_help)
    p.add_argument("--data", default=None, help="dataset (default: the one in the file's metadata)")
    p.add_argument("--data-root", default=None, help="directory holding the dataset's files")
    add_limit_args(p)
    p.add_argument("--dt", type=positive_float, default=None, help=DT_HELP)
    p.add_argument("--inputs", default=None,
                   help="your own inputs instead of a dataset: .npy holding x, or .npz holding x and "
                        "optional labels y; x of shape (B, T, *input shape) for spike or event tensors, "
                        "or (B, *input shape) for static inputs repeated --timesteps times")
    p.add_argument("--timesteps", type=validate.timesteps_arg, default=None,
                   help="steps per sample for static --inputs (default: the file's metadata)")
    p.add_argument("--reset-interval", type=positive_int, default=None,
                   help="netx files: lava-dl's Network(reset_interval=N), every layer resetting every N steps "
                        "(default: none; also the steps per sample)")
    p.add_argument("--reset-offset", type=int, default=0, help="netx files: lava-dl's Network(reset_offset=K)")


def read_netx_args(args):
    """The netx file's program (deploy/netx_read.py) with --timesteps, --reset-interval and
    --reset-offset, or None when args.nir_file is not a netx file."""
    if not is_netx(args.nir_file):
        return None
    return read_netx(args.nir_file, args.timesteps, args.reset_interval, args.reset_offset, args.max_mb)


def add_limit_args(p) -> None:
    """--max-mb (what a file may declare) and --max-work-mb (what a run may hold)."""
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a NIR file, checkpoint or inputs file declaring more MiB of arrays "
                        "(checked before reading)")
    p.add_argument("--max-work-mb", type=positive_float, default=validate.MAX_WORK_MB,
                   help="refuse a run that would hold more MiB at once (one batch's inputs, states "
                        "and spike records, estimated before allocating)")


def load_graph_and_inputs(args, lazy: bool = False, on_chip: bool = True):
    """(graph, x, y or None, name of the inputs) for the NIR commands' common options; with
    `lazy`, (graph, Samples, name), a dataset's samples read when their batch is.  `on_chip`:
    spike or event-count inputs get an input layer on the chip (deploy/samples.py inputs_on_chip);
    False keeps the graph as read (netx, whose input is the host-fed layer's spikes)."""
    if args.inputs is None:
        graph = read_nir(args.nir_file, args.max_mb, args.dt, args.timesteps)
        samples = test_samples(graph, args.data, args.data_root, args.samples, args.nir_file)
    else:
        x, y = user_inputs(args.inputs, args.max_mb)
        graph, samples = fit_inputs(read_nir(args.nir_file, args.max_mb, args.dt), x, y, args.inputs,
                                    args.timesteps, args.samples, on_chip=False)
    if on_chip:
        graph = inputs_on_chip(graph, samples)
    if lazy:
        return graph, samples, samples.name
    return (graph, *samples.batch(range(len(samples))), samples.name)
