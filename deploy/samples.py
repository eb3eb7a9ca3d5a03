"""The inputs a program runs on: a dataset's test split (read a batch at a time) or a user's own
arrays (.npy x, or .npz x and optional y), fitted to a graph's input shape and steps.

Shapes: x is (B, T, *input shape) for spike or event tensors, (B, *input shape) for static
inputs the host repeats for T steps; y is (B,) int64 labels.
"""
from __future__ import annotations

from pathlib import Path


import numpy as np
import torch

from spikefold.common import validate
from spikefold.common.errors import InputError
from spikefold.compile.graph import Graph
from spikefold.compile.nodes import Input
from spikefold.deploy.added_nodes import spikes_on_chip
from spikefold.models.data import DATASETS, load_dataset


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

    def require_some(self) -> None:
        """InputError naming the inputs when there are none to run."""
        if self.n == 0:
            raise InputError(f"{self.name or 'inputs'}: no samples to run")

    def event_count(self, batch: int = 128) -> int | None:
        """deploy/samples.py event_count over every sample (a dataset's read a batch at a time;
        the first batch that is not event counts ends the scan)."""
        most = 1
        for i in range(0, self.n, batch):
            k = event_count(self.batch(range(i, min(i + batch, self.n)))[0])
            if k is None:
                return None
            most = max(most, k)
        return most if self.n else None

    def batch(self, idx: range) -> tuple:
        if self.x is not None:
            return self.x[idx.start:idx.stop], None if self.y is None else self.y[idx.start:idx.stop]
        items = [self.dataset[i] for i in idx]
        x = torch.stack([item[0] for item in items])
        validate.finite_array(f"dataset {self.name}", "test inputs", x.numpy())
        return x, torch.tensor([int(item[1]) for item in items])


def fit_inputs(graph: Graph, x: torch.Tensor, y: torch.Tensor | None, source: str,
               timesteps: int | None = None, samples: int = 0, on_chip: bool = True) -> tuple[Graph, Samples]:
    """(graph with its timesteps set, Samples): a user's arrays x (B, *shape) or (B, T, *shape) and
    labels y fitted to `graph`'s input; `timesteps` for static x (default: the graph's metadata;
    a foreign graph has none), the first `samples` of them (0: all).  With `on_chip`, spike or
    event-count inputs (whole numbers 0..MAX_EVENTS_PER_STEP) make the first synapse run on the
    chip instead of the host (`inputs_on_chip`; the copies K are the largest count among these
    samples).  Errors name `source`."""
    shape = tuple(next(n for n in graph.nodes.values() if isinstance(n, Input)).shape)
    declared = tuple(graph.meta.get("nir", {}).get("input_shape", shape))    # (C, L) run as (C, 1, L)
    if declared != shape and tuple(x.shape[-len(declared):]) == declared:
        x = x.reshape(*x.shape[:-len(declared)], *shape)
    if tuple(x.shape[1:]) == shape:
        steps = timesteps or (None if graph.meta.get("nir", {}).get("foreign") else graph.meta["timesteps"])
        if steps is None:
            raise InputError(f"{source}: static inputs {tuple(x.shape)} need --timesteps")
    elif tuple(x.shape[2:]) == shape:
        steps = x.shape[1]
        if timesteps is not None and timesteps != steps:
            raise InputError(f"--timesteps {timesteps}: {source} already holds {steps} steps per sample "
                             f"(shape {tuple(x.shape)}); leave --timesteps out")
    else:
        raise InputError(f"{source}: inputs of shape {tuple(x.shape)} do not fit the graph's input "
                         f"{declared}: expected (B, {', '.join(map(str, declared))}) or (B, T, "
                         f"{', '.join(map(str, declared))})")
    graph = graph.with_meta(timesteps=int(steps))
    if samples > 0:
        x, y = x[:samples], None if y is None else y[:samples]
    samples = Samples(x, y, name=Path(source).name)
    return (inputs_on_chip(graph, samples) if on_chip else graph), samples


MAX_EVENTS_PER_STEP = 15    # event counts beyond this per element and step: the host computes the first layer


def event_count(x: torch.Tensor) -> int | None:
    """The most events one element of x holds on one step (at least 1) if x is spikes or event
    counts, whole numbers in [0, MAX_EVENTS_PER_STEP]; else None."""
    if x.numel() == 0 or not bool(((x >= 0) & (x == torch.round(x))).all()):
        return None
    most = int(x.max())
    return max(most, 1) if most <= MAX_EVENTS_PER_STEP else None


def inputs_on_chip(graph: Graph, samples: "Samples") -> Graph:
    """The graph with an input layer on the chip (deploy/added_nodes.py spikes_on_chip) when every
    sample is spikes or event counts: the first synapse then runs on the chip, one spike per
    event, instead of on the host as dense MACs.  Otherwise (or when the input's consumer cannot
    read copies of it) the graph as it is."""
    most = samples.event_count()
    if most is None:
        return graph
    try:
        return spikes_on_chip(graph, most)
    except ValueError:
        return graph


def user_inputs(path, max_mb: float = validate.MAX_MB) -> tuple:
    """(x float32 tensor, y int64 tensor or None) from a .npy (x) or .npz (x, optional y); at
    least one sample, numeric, finite, within float32's range, at most `max_mb` MiB declared."""
    arrays = validate.read_arrays(path, max_mb)
    if "x" not in arrays:
        raise InputError(f"{path}: an .npz of inputs needs an array named x "
                         f"(found {', '.join(arrays) or 'none'})")
    x, y = arrays["x"], arrays.get("y")
    if x.dtype.kind not in "biuf" or x.ndim < 2:
        raise InputError(f"{path}: x must be a numeric array (B, ...), got {x.dtype} of shape {x.shape}")
    if 0 in x.shape:
        raise InputError(f"{path}: x of shape {x.shape} holds no values (at least one sample is needed)")
    validate.finite_array(str(path), "x", x)
    if y is not None:
        if y.shape != (x.shape[0],) or y.dtype.kind not in "biu":
            raise InputError(f"{path}: y must hold one integer label per sample ({x.shape[0]}), "
                             f"got {y.dtype} of shape {y.shape}")
        if y.min() < 0:
            raise InputError(f"{path}: y holds a negative label ({int(y.min())})")
        y = torch.as_tensor(y.astype(np.int64))
    return torch.as_tensor(x.astype(np.float32)), y


def test_samples(graph: Graph, dataset: str | None = None, root: str | None = None,
                 samples: int = 0, source: str = "the graph") -> Samples:
    """The first `samples` test samples (0: all) of the graph's dataset (or `dataset`), read a
    batch at a time; errors name `source` (the file the graph came from) or --data."""
    ds, n, name = test_split(graph, dataset, root, samples, source)
    return Samples(dataset=ds, n=n, name=name)


def test_split(graph, dataset: str | None, root: str | None, samples: int, source: str = "the graph"):
    """(test dataset, samples to use, dataset name): the graph's dataset (or `dataset`), its
    first `samples` test samples (0: all)."""
    info = graph.meta.get("nir", {})
    name = dataset or info.get("dataset")
    if name is None:
        raise InputError(f"{source}: names no dataset; pass --data or --inputs")
    if name not in DATASETS:
        where = "--data" if dataset else f"{source}: metadata field dataset"
        raise InputError(f"{where}: unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    shape = graph.nodes[next(iter(graph.nodes))].shape
    ds = load_dataset(name, root, False, int(graph.meta["timesteps"]), shape[-1])
    return ds, len(ds) if samples <= 0 else min(samples, len(ds)), name
