"""What the commands that run a NIR file share: its options, the file, and the test inputs its
metadata names."""
from __future__ import annotations

import torch

from compile.nir_io import read_nir
from models.data import DATASETS, load_dataset
from deploy.quantize import quantize
from spikefold import validate
from spikefold.cli import InputError, nonneg_int, positive_float


def add_nir_args(p, samples_default: int, samples_help: str) -> None:
    """nir_file, --samples, --data, --data-root, --max-mb."""
    p.add_argument("nir_file")
    p.add_argument("--samples", type=nonneg_int, default=samples_default, help=samples_help)
    p.add_argument("--data", default=None, help="dataset (default: the one in the file's metadata)")
    p.add_argument("--data-root", default=None, help="directory holding the dataset's files")
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a NIR file declaring more MiB of arrays (checked before reading)")


def test_inputs(graph, dataset: str | None, root: str | None, samples: int):
    """(x, y, dataset name): the first `samples` test inputs of the graph's dataset (0: all)."""
    info = graph.meta.get("nir", {})
    name = dataset or info.get("dataset")
    if name is None:
        raise ValueError("the NIR file names no dataset; pass --data")
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    shape = graph.nodes[next(iter(graph.nodes))].shape
    ds = load_dataset(name, root, False, int(graph.meta["timesteps"]), shape[-1])
    n = len(ds) if samples <= 0 else min(samples, len(ds))
    x = torch.stack([ds[i][0] for i in range(n)])
    validate.finite_array(f"dataset {name}", "test inputs", x.numpy())
    y = torch.tensor([int(ds[i][1]) for i in range(n)])
    return x, y, name


def quantize_file(graph, source, netx: bool = False):
    """quantize(graph), its refusals (a graph the chip cannot run) naming the file they came from."""
    try:
        return quantize(graph, netx=netx)
    except ValueError as e:
        raise InputError(f"{source}: {str(e).splitlines()[0]}") from None


__all__ = ["add_nir_args", "quantize_file", "read_nir", "test_inputs"]
