"""Datasets: digits (default), digits-dvs, mnist, nmnist-sim, CIFAR-10/100, CIFAR10-DVS, DVS128 Gesture,
ImageNet.

`load_dataset(name, root, train, timesteps)` returns a torch Dataset of
(x, label) with x a float tensor (C, H, W) for static images or (T, C, H, W)
for event frames, and `DATASETS[name]` says its shape and class count.
Nothing is ever downloaded: a missing directory raises DatasetNotFound,
whose one-line message says where the files must be.
"""

from spikefold.models.data.errors import DatasetNotFound
from spikefold.models.data.registry import DATASETS, DatasetInfo, load_dataset, seeded_subset

__all__ = ["DATASETS", "DatasetInfo", "DatasetNotFound", "load_dataset", "seeded_subset"]
