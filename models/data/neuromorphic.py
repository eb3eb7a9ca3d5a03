"""CIFAR10-DVS and DVS128 Gesture from local directories in tonic's layout (never downloaded).

CIFAR10-DVS (tonic.datasets.CIFAR10DVS):
    ROOT/CIFAR10DVS/<class>/<name>.aedat4    class in airplane ... truck, AEDAT 4.0 files
    split 9:1 per class (the paper's), by sorted file name: the last tenth is test.
DVS128 Gesture (tonic.datasets.DVSGesture):
    ROOT/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy   (and ibmGestureTest)
    each .npy an (N, 4) array of (x, y, p, t in ms), label 0..10 from the file name.
Both sensors are 128x128 with 2 polarities; samples become (T, 2, size, size)
event-count frames (models.data.events).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from spikefold.models.data.errors import DatasetNotFound
from spikefold.models.data.events import events_to_frames

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
SENSOR = (128, 128)


def read_aedat4_events(path: Path) -> dict[str, np.ndarray]:
    """The first event stream of an AEDAT 4.0 file as arrays t, x, y, on."""
    try:
        import aedat
    except ImportError:
        raise DatasetNotFound(f"{path}: reading AEDAT 4.0 needs aedat, the optional `data` extra "
                              f"(pip install '.[data]')") from None

    try:
        decoder = aedat.Decoder(str(path))
        ids = [i for i, s in decoder.id_to_stream().items() if s["type"] == "events"]
        if not ids:
            raise ValueError("no event stream")
        chunks = [pk["events"] for pk in decoder if pk["stream_id"] == min(ids) and "events" in pk]
    except Exception as e:  # the decoder raises plain Exceptions on malformed files
        raise DatasetNotFound(f"{path}: not a readable AEDAT 4.0 event file ({e})") from None
    ev = np.concatenate(chunks) if chunks else np.zeros(0, dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "?")])
    return {k: ev[k] for k in ("t", "x", "y", "on")}


class EventFrames(Dataset):
    """Files + labels -> (frames (T, 2, size, size), label); subclasses say how to read a file."""

    def __init__(self, files: list[Path], labels: list[int], timesteps: int, size: int):
        self.files, self.labels, self.timesteps, self.size = files, labels, timesteps, size

    def __len__(self) -> int:
        return len(self.files)

    def read(self, path: Path):
        raise NotImplementedError

    def __getitem__(self, i: int):
        x, y, p, t = self.read(self.files[i])
        frames = events_to_frames(x, y, p, t, SENSOR, self.timesteps, self.size)
        return torch.from_numpy(frames), self.labels[i]


class CIFAR10DVS(EventFrames):
    def __init__(self, root: str | Path, train: bool, timesteps: int, size: int = 48):
        base = Path(root) / "CIFAR10DVS"
        files, labels = [], []
        for label, name in enumerate(CIFAR10_CLASSES):
            found = sorted((base / name).glob("*.aedat4"))
            cut = len(found) - len(found) // 10
            chosen = found[:cut] if train else found[cut:]
            files += chosen
            labels += [label] * len(chosen)
        if not files:
            raise DatasetNotFound(f"{base}: CIFAR10-DVS not found (need <class>/*.aedat4 for the "
                                  f"classes {', '.join(CIFAR10_CLASSES)}, tonic's layout; nothing is downloaded)")
        super().__init__(files, labels, timesteps, size)

    def read(self, path: Path):
        ev = read_aedat4_events(path)
        return ev["x"], ev["y"], ev["on"], ev["t"]


class DVSGesture(EventFrames):
    def __init__(self, root: str | Path, train: bool, timesteps: int, size: int = 64):
        base = Path(root) / "DVSGesture" / ("ibmGestureTrain" if train else "ibmGestureTest")
        files = list(base.glob("user*_*/*.npy"))
        if not files:
            raise DatasetNotFound(f"{base}: DVS128 Gesture not found (need user<NN>_<lighting>/<label>.npy, "
                                  f"tonic's layout; nothing is downloaded)")
        try:
            files.sort(key=lambda f: (f.parent.name, int(f.stem)))  # label order, not 0, 1, 10, 2
        except ValueError:
            raise DatasetNotFound(f"{base}: DVS128 Gesture file names must be <label>.npy") from None
        labels = [int(f.stem) for f in files]
        super().__init__(files, labels, timesteps, size)

    def read(self, path: Path):
        try:
            ev = np.load(path, allow_pickle=False)
            if ev.ndim != 2 or ev.shape[1] != 4:
                raise ValueError(f"expected an (N, 4) array, got {ev.shape}")
        except (OSError, ValueError) as e:
            raise DatasetNotFound(f"{path}: not a DVS128 Gesture event array ({e})") from None
        return ev[:, 0], ev[:, 1], ev[:, 2], ev[:, 3]
