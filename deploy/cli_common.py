"""What the commands that run a NIR file share: its options, the file, and its inputs: the test
split its metadata names, or the user's own (--inputs x.npy / x.npz)."""
from __future__ import annotations

import torch

from pathlib import Path

import numpy as np

from spikefold.compile.nir_io import DT_HELP, read_nir
from spikefold.compile.nodes import Input
from spikefold.models.data import DATASETS, load_dataset
from spikefold.deploy.quantize import quantize, spikes_on_chip
from spikefold.common import validate
from spikefold.common.cli import InputError, nonneg_int, positive_float, positive_int


def add_nir_args(p, samples_default: int, samples_help: str) -> None:
    """nir_file, --samples, --data, --data-root, --max-mb."""
    p.add_argument("nir_file")
    p.add_argument("--samples", type=nonneg_int, default=samples_default, help=samples_help)
    p.add_argument("--data", default=None, help="dataset (default: the one in the file's metadata)")
    p.add_argument("--data-root", default=None, help="directory holding the dataset's files")
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a NIR file declaring more MiB of arrays (checked before reading)")
    p.add_argument("--dt", type=positive_float, default=None, help=DT_HELP)
    p.add_argument("--inputs", default=None,
                   help="your own inputs instead of a dataset: .npy holding x, or .npz holding x and "
                        "optional labels y; x of shape (B, T, *input shape) for spike or event tensors, "
                        "or (B, *input shape) for static inputs repeated --timesteps times")
    p.add_argument("--timesteps", type=positive_int, default=None,
                   help="steps per sample for static --inputs (default: the file's metadata)")


class Samples:
    """Inputs with their labels (or none), read one batch at a time: a dataset's test split, each
    sample loaded only when its batch is (memory grows with the batch, not the split), or arrays
    already in memory (a user's --inputs).  `batch(range)` -> (x, y or None)."""

    def __init__(self, x=None, y=None, dataset=None, n: int = 0, name: str = ""):
        self.x, self.y, self.dataset, self.name = x, y, dataset, name
        self.n = len(x) if x is not None else n
        self.labelled = y is not None or dataset is not None

    def __len__(self) -> int:
        return self.n

    def batch(self, idx: range) -> tuple:
        if self.x is not None:
            return self.x[idx.start:idx.stop], None if self.y is None else self.y[idx.start:idx.stop]
        items = [self.dataset[i] for i in idx]
        x = torch.stack([item[0] for item in items])
        validate.finite_array(f"dataset {self.name}", "test inputs", x.numpy())
        return x, torch.tensor([int(item[1]) for item in items])


def load_graph_and_inputs(args, lazy: bool = False):
    """(graph, x, y or None, name of the inputs) for the NIR commands' common options; with
    `lazy`, (graph, Samples, name), a dataset's samples read when their batch is."""
    if args.inputs is None:
        graph = read_nir(args.nir_file, args.max_mb, args.dt, args.timesteps)
        if lazy:
            ds, n, name = test_split(graph, args.data, args.data_root, args.samples)
            return graph, Samples(dataset=ds, n=n, name=name), name
        x, y, name = test_inputs(graph, args.data, args.data_root, args.samples)
        return graph, x, y, name
    x, y = user_inputs(args.inputs)
    graph = read_nir(args.nir_file, args.max_mb, args.dt)
    shape = tuple(next(n for n in graph.nodes.values() if isinstance(n, Input)).shape)
    declared = tuple(graph.meta.get("nir", {}).get("input_shape", shape))    # (C, L) run as (C, 1, L)
    if declared != shape and tuple(x.shape[-len(declared):]) == declared:
        x = x.reshape(*x.shape[:-len(declared)], *shape)
    if tuple(x.shape[1:]) == shape:
        steps = args.timesteps or (None if graph.meta.get("nir", {}).get("foreign") else graph.meta["timesteps"])
        if steps is None:
            raise InputError(f"{args.inputs}: static inputs {tuple(x.shape)} need --timesteps")
    elif tuple(x.shape[2:]) == shape:
        steps = x.shape[1]
    else:
        raise InputError(f"{args.inputs}: inputs of shape {tuple(x.shape)} do not fit the graph's input "
                         f"{declared}: expected (B, {', '.join(map(str, declared))}) or (B, T, "
                         f"{', '.join(map(str, declared))})")
    graph = graph.with_meta(timesteps=int(steps))
    if args.samples > 0:
        x, y = x[:args.samples], None if y is None else y[:args.samples]
    if bool(((x == 0) | (x == 1)).all()):      # spikes: the first synapse runs on the chip, not the host
        graph = spikes_on_chip(graph)
    if lazy:
        return graph, Samples(x, y), Path(args.inputs).name
    return graph, x, y, Path(args.inputs).name


def user_inputs(path) -> tuple:
    """(x float32 tensor, y int64 tensor or None) from a .npy (x) or .npz (x, optional y)."""
    path = validate.input_file(path, "inputs file")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise InputError(f"{path}: not a .npy or .npz file ({str(e).splitlines()[0][:120]})") from None
    if isinstance(data, np.ndarray):
        x, y = data, None
    else:
        if "x" not in data.files:
            raise InputError(f"{path}: an .npz of inputs needs an array named x (found {', '.join(data.files) or 'none'})")
        x, y = data["x"], data["y"] if "y" in data.files else None
    if x.dtype.kind not in "biuf" or x.ndim < 2:
        raise InputError(f"{path}: x must be a numeric array (B, ...), got {x.dtype} of shape {x.shape}")
    validate.finite_array(path, "x", x.astype(np.float64))
    if y is not None:
        if y.shape != (x.shape[0],) or y.dtype.kind not in "biu":
            raise InputError(f"{path}: y must hold one integer label per sample ({x.shape[0]}), "
                             f"got {y.dtype} of shape {y.shape}")
        y = torch.as_tensor(y.astype(np.int64))
    return torch.as_tensor(x.astype(np.float32)), y


def test_inputs(graph, dataset: str | None, root: str | None, samples: int):
    """(x, y, dataset name): the first `samples` test inputs of the graph's dataset (0: all)."""
    ds, n, name = test_split(graph, dataset, root, samples)
    x, y = Samples(dataset=ds, n=n, name=name).batch(range(n))
    return x, y, name


def test_split(graph, dataset: str | None, root: str | None, samples: int):
    """(test dataset, samples to use, dataset name): the graph's dataset (or `dataset`), its
    first `samples` test samples (0: all)."""
    info = graph.meta.get("nir", {})
    name = dataset or info.get("dataset")
    if name is None:
        raise ValueError("the NIR file names no dataset; pass --data")
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    shape = graph.nodes[next(iter(graph.nodes))].shape
    ds = load_dataset(name, root, False, int(graph.meta["timesteps"]), shape[-1])
    return ds, len(ds) if samples <= 0 else min(samples, len(ds)), name


def quantize_file(graph, source, netx: bool = False):
    """quantize(graph), its refusals (a graph the chip cannot run) naming the file they came from."""
    try:
        return quantize(graph, netx=netx)
    except ValueError as e:
        raise InputError(f"{source}: {str(e).splitlines()[0]}") from None


__all__ = ["Samples", "add_nir_args", "load_graph_and_inputs", "quantize_file", "read_nir", "test_inputs",
           "test_split", "user_inputs"]
