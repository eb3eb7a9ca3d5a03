"""digits-dvs: the 8x8 digits seen by a simulated DVS pixel array during small saccades.

An event-stream stand-in for CIFAR10-DVS / N-MNIST that needs no download.
How it is made (deterministic; cached under $SPIKEFOLD_CACHE, default
~/.cache/spikefold):

  * Motion: like N-MNIST, the sensor makes three straight saccades tracing the
    triangle (0, 0) -> (+1, +0.5) -> (0, +1) -> (0, 0) pixels (dx, dy), each
    sampled at SUBSTEPS positions; the image is resampled bilinearly at each
    position, with black (0) outside it.
  * Pixels: each of the 8x8 pixels compares its log intensity log(I + EPS)
    with the level at its last event; every whole multiple of its contrast
    threshold crossed emits one ON (up) or OFF (down) event and moves the
    level by one threshold.  Thresholds are CONTRAST * (1 + MISMATCH * z) per
    pixel and polarity, z ~ N(0, 1) from a fixed seed (real sensors have
    such fixed-pattern mismatch); no other noise.
  * Frames: events are binned into T equal slices of the motion, counted per
    polarity: x has shape (T, 2, 8, 8) (channel 0 ON, 1 OFF).
The train/test split is the digits split.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from spikefold.models.data.digits import digits_arrays

PATH = ((0.0, 0.0), (1.0, 0.5), (0.0, 1.0), (0.0, 0.0))  # saccade vertices (dx, dy), pixels
SUBSTEPS = 20       # sensor samples per saccade
EPS = 0.1           # log(I + EPS): intensity offset, keeps black pixels finite
CONTRAST = 0.25     # nominal log-intensity change per event
MISMATCH = 0.1      # relative std of per-pixel thresholds
SEED = 0
VERSION = 1         # bump when the simulation changes (invalidates the cache)


def cache_dir() -> Path:
    return Path(os.environ.get("SPIKEFOLD_CACHE", Path.home() / ".cache" / "spikefold"))


def shift_bilinear(images: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """images (N, H, W) moved by (dx, dy) pixels, bilinear, zero outside."""
    n, h, w = images.shape
    pad = 2
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad), images.dtype)
    padded[:, pad:pad + h, pad:pad + w] = images
    ix, fx = int(np.floor(dx)), dx - np.floor(dx)
    iy, fy = int(np.floor(dy)), dy - np.floor(dy)

    def window(oy, ox):  # out[y, x] = in[y - oy, x - ox]
        return padded[:, pad - oy:pad - oy + h, pad - ox:pad - ox + w]

    return ((1 - fy) * (1 - fx) * window(iy, ix) + (1 - fy) * fx * window(iy, ix + 1)
            + fy * (1 - fx) * window(iy + 1, ix) + fy * fx * window(iy + 1, ix + 1))


def positions() -> list[tuple[float, float]]:
    """Sensor offsets (dx, dy) at every sample of the three saccades."""
    out = []
    for (x0, y0), (x1, y1) in zip(PATH[:-1], PATH[1:]):
        for k in range(1, SUBSTEPS + 1):
            a = k / SUBSTEPS
            out.append((x0 + a * (x1 - x0), y0 + a * (y1 - y0)))
    return out


def simulate_dvs(images: np.ndarray, timesteps: int) -> np.ndarray:
    """Event frames (N, T, 2, H, W) float32 (event counts) for images (N, H, W) in [0, 1]."""
    n, h, w = images.shape
    z = np.random.default_rng(SEED).standard_normal((2, h, w))
    thr = CONTRAST * np.clip(1 + MISMATCH * z, 0.5, 1.5)  # (polarity, H, W)
    level = np.log(images + EPS)
    frames = np.zeros((n, timesteps, 2, h, w), np.float32)
    steps = positions()
    for k, (dx, dy) in enumerate(steps):
        log_i = np.log(shift_bilinear(images, dx, dy) + EPS)
        diff = log_i - level
        on = np.floor(np.maximum(diff, 0) / thr[0])
        off = np.floor(np.maximum(-diff, 0) / thr[1])
        level = level + on * thr[0] - off * thr[1]
        t = k * timesteps // len(steps)
        frames[:, t, 0] += on
        frames[:, t, 1] += off
    return frames


def _cache_key(train: bool, timesteps: int) -> str:
    params = repr((VERSION, PATH, SUBSTEPS, EPS, CONTRAST, MISMATCH, SEED, train, timesteps))
    return hashlib.sha256(params.encode()).hexdigest()[:16]


def digits_dvs_arrays(train: bool, timesteps: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N, T, 2, 8, 8), labels (N,)), from the cache when present."""
    path = cache_dir() / f"digits_dvs_{'train' if train else 'test'}_T{timesteps}_{_cache_key(train, timesteps)}.npz"
    if path.exists():
        with np.load(path) as f:
            return f["frames"], f["labels"]
    images, labels = digits_arrays(train)
    frames = simulate_dvs(images, timesteps)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, frames=frames, labels=labels)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file
    return frames, labels


def digits_dvs(train: bool, timesteps: int) -> TensorDataset:
    x, y = digits_dvs_arrays(train, timesteps)
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
