"""CIFAR-10 / CIFAR-100 from a local directory in torchvision's format (never downloaded).

Expected layout (what torchvision's CIFAR10/CIFAR100 unpack):
    ROOT/cifar-10-batches-py/{data_batch_1..5, test_batch}   dict b"data" (N, 3072) uint8, b"labels"
    ROOT/cifar-100-python/{train, test}                       dict b"data", b"fine_labels"
The batches are pickles; they are read with an unpickler that only admits the
numpy types these files contain, so a tampered file cannot run code.
Training augmentation, `augment`:
  standard      random crop 32 with padding 4 and horizontal flip (every recipe's base);
  autoaugment   then AutoAugment's CIFAR-10 policy (Cubuk et al., CVPR 2019; torchvision's);
  cutout        then, after normalisation, one 16 x 16 square set to 0 at a random centre, clipped
                at the border (DeVries & Taylor 2017's CIFAR setting);
  autoaugment+cutout  both, in that order, as the TET/MPBN code bases the STAA paper builds on.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from spikefold.models.data.errors import DatasetNotFound

AUGMENTS = ("standard", "autoaugment", "cutout", "autoaugment+cutout")
CUTOUT = 16

MEAN = {10: (0.4914, 0.4822, 0.4465), 100: (0.5071, 0.4865, 0.4409)}
STD = {10: (0.2470, 0.2435, 0.2616), 100: (0.2673, 0.2564, 0.2762)}
LAYOUT = {10: ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"),
          100: ("cifar-100-python", ["train"], ["test"], b"fine_labels")}
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
            ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> images (N, 3, 32, 32) uint8, labels (N,) int64."""
    try:
        with open(path, "rb") as f:
            d = _ArrayUnpickler(f, encoding="bytes").load()
        data = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(d[label_key], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as e:
        raise DatasetNotFound(f"{path}: not a CIFAR batch in torchvision's format ({e})") from None
    return data, labels


class CIFAR(Dataset):
    def __init__(self, root: str | Path, classes: int, train: bool, augment: str = "standard"):
        if augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTS)} (got {augment!r})")
        folder, train_files, test_files, key = LAYOUT[classes]
        base = Path(root) / folder
        files = train_files if train else test_files
        missing = [f for f in files if not (base / f).is_file()]
        if missing:
            raise DatasetNotFound(f"{base}: CIFAR-{classes} not found (need {', '.join(files)} "
                                  f"in torchvision's format; nothing is downloaded)")
        parts = [read_batch(base / f, key) for f in files]
        self.images = np.concatenate([p[0] for p in parts])
        self.labels = np.concatenate([p[1] for p in parts])
        self.train = train
        self.augment = augment.split("+")
        self.policy = None
        if "autoaugment" in self.augment:
            from torchvision.transforms import AutoAugment, AutoAugmentPolicy
            self.policy = AutoAugment(AutoAugmentPolicy.CIFAR10)
        self.mean = torch.tensor(MEAN[classes]).view(3, 1, 1)
        self.std = torch.tensor(STD[classes]).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = torch.from_numpy(self.images[i])                              # (3, 32, 32) uint8
        if self.train:
            x = torch.nn.functional.pad(x, (4, 4, 4, 4))
            dy, dx = torch.randint(0, 9, (2,)).tolist()
            x = x[:, dy:dy + 32, dx:dx + 32]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
            if self.policy is not None:
                x = self.policy(x)
        x = (x.float() / 255.0 - self.mean) / self.std
        if self.train and "cutout" in self.augment:
            cy, cx = torch.randint(0, 32, (2,)).tolist()
            x = x.clone()
            x[:, max(0, cy - CUTOUT // 2):cy + CUTOUT // 2, max(0, cx - CUTOUT // 2):cx + CUTOUT // 2] = 0.0
        return x, int(self.labels[i])
