"""ImageNet from a local ImageFolder tree (never downloaded): ROOT/train/<wnid>/*.JPEG, ROOT/val/<wnid>/*.

Augmentation as in the paper's reference [29]: RandomResizedCrop + horizontal
flip for training; Resize(size * 8/7) + CenterCrop for validation; ImageNet
mean/std normalisation.
"""

from __future__ import annotations

from pathlib import Path

from spikefold.models.data.errors import DatasetNotFound

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def imagenet(root: str | Path, train: bool, size: int = 224):
    from torchvision import datasets, transforms

    folder = Path(root) / ("train" if train else "val")
    if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
        raise DatasetNotFound(f"{folder}: ImageNet not found (need <class>/<image> folders, "
                              f"torchvision ImageFolder layout; nothing is downloaded)")
    if train:
        tf = [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip()]
    else:
        tf = [transforms.Resize(round(size * 8 / 7)), transforms.CenterCrop(size)]
    tf += [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    return datasets.ImageFolder(str(folder), transforms.Compose(tf))
