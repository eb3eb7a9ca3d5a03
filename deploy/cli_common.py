"""What the deploy/ commands share: read a NIR file and the test inputs its metadata names."""
from __future__ import annotations

import torch

from compile.nir_io import read_nir
from models.data import DATASETS, load_dataset


def test_inputs(graph, dataset: str | None, root: str | None, samples: int):
    """(x, y, dataset name): the first `samples` test inputs of the graph's dataset."""
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
    y = torch.tensor([int(ds[i][1]) for i in range(n)])
    return x, y, name


__all__ = ["read_nir", "test_inputs"]
