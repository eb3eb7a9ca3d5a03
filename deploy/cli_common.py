"""What the commands that run a NIR file share: its options, the file, and its inputs (the
library behind them: deploy/samples.py)."""
from __future__ import annotations

from spikefold.common import validate
import torch

from spikefold.common.cli import InputError, nonneg_int, positive_float, positive_int
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
    add_netx_args(p)


def add_netx_args(p) -> None:
    """--reset-interval, --reset-offset: how lava-dl's Network runs a netx file."""
    p.add_argument("--reset-interval", type=positive_int, default=None,
                   help="netx files: lava-dl's Network(reset_interval=N), every layer resetting every N steps "
                        "(default: none; also the steps per sample)")
    p.add_argument("--reset-offset", type=int, default=0, help="netx files: lava-dl's Network(reset_offset=K)")


def read_netx_args(args):
    """The netx file's program (deploy/netx_read.py) with --timesteps, --reset-interval and
    --reset-offset, or None when args.nir_file is not a netx file (then the netx options are
    refused)."""
    netx = is_netx(args.nir_file)
    if not netx and (args.reset_interval is not None or args.reset_offset):
        raise InputError(f"--reset-interval/--reset-offset: for netx files; {args.nir_file} is a NIR graph")
    if not netx:
        return None
    if args.reset_offset and args.reset_interval is None:
        raise InputError("--reset-offset: without --reset-interval no layer resets (lava-dl ignores the offset too)")
    if getattr(args, "stream", False):
        raise InputError(f"--stream: {args.nir_file} is a netx file, whose layers reset themselves as its "
                         f"--reset-interval says; run it without --stream")
    return read_netx(args.nir_file, args.timesteps, args.reset_interval, args.reset_offset, args.max_mb)


NETX_BIAS_MANT = 1 << 12    # Loihi's bias mantissa: 13 bits, signed (chip/program.py NeuronLayer)


def netx_inputs(args, program) -> tuple:
    """(x, y or None) from --inputs for a netx program: x (B, *input shape) integers, the input
    layer's bias mantissa per sample, within Loihi's 13 bits once added to the file's own bias
    (first --samples of them); InputError naming the file otherwise."""
    want = ", ".join(map(str, program.input_shape))
    if args.inputs is None:
        raise InputError(f"{args.nir_file}: a netx file names no dataset: give --inputs (x: the input "
                         f"layer's bias, integers of shape (B, {want}))")
    x, y = user_inputs(args.inputs, args.max_mb)
    if tuple(x.shape[1:]) != tuple(program.input_shape):
        raise InputError(f"{args.inputs}: x has shape {tuple(x.shape)}, expected (B, {want}): the input layer's bias")
    if not torch.equal(x, x.round()):
        raise InputError(f"{args.inputs}: x must hold integers (the input layer's bias mantissa)")
    total = x + torch.as_tensor(program.neurons[program.host.dst].bias_mant, dtype=x.dtype)
    if total.abs().max() >= NETX_BIAS_MANT:
        raise InputError(f"{args.inputs}: x plus the file's input bias reaches {int(total.abs().max())}, beyond "
                         f"Loihi's 13-bit bias mantissa (|b| < {NETX_BIAS_MANT})")
    n = args.samples or len(x)
    return x[:n], None if y is None else y[:n]


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
