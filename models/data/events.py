"""Event streams -> frames, as tonic's ToFrame(n_time_bins=T) does, with spatial downsampling;
CountFrames, a dataset of event-count frames stored as uint8."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


def events_to_frames(x: np.ndarray, y: np.ndarray, p: np.ndarray, t: np.ndarray,
                     sensor: tuple[int, int], timesteps: int, size: int) -> np.ndarray:
    """Count events into (T, 2, size, size) float32 frames.

    x, y: pixel coordinates on a sensor of (width, height) `sensor`; p: polarity
    (truthy = ON, channel 0); t: timestamps (any unit).  Time is cut into T
    equal slices of [t_min, t_max]; coordinates are scaled to `size`.
    """
    frames = np.zeros((timesteps, 2, size, size), np.float32)
    if len(t) == 0:
        return frames
    t = t.astype(np.float64)
    span = max(t.max() - t.min(), 1e-9)
    tb = np.minimum(((t - t.min()) / span * timesteps).astype(np.int64), timesteps - 1)
    xs = np.minimum(x.astype(np.int64) * size // sensor[0], size - 1)
    ys = np.minimum(y.astype(np.int64) * size // sensor[1], size - 1)
    pol = np.where(p.astype(bool), 0, 1)
    np.add.at(frames, (tb, pol, ys, xs), 1.0)
    return frames


class CountFrames(Dataset):
    """(frames (T, 2, H, W) float32, label) from event counts stored compactly (N, T, 2, H, W)
    uint8: a quarter of the memory of float32 frames, the same values."""

    def __init__(self, frames: np.ndarray, labels: np.ndarray):
        if len(frames) != len(labels):
            raise ValueError(f"{len(frames)} frame sequences but {len(labels)} labels")
        self.frames, self.labels = torch.from_numpy(frames), torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.frames[i].float(), self.labels[i]
