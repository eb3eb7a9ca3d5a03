"""digits-dvs: the 8x8 digits seen by a simulated DVS pixel array during small saccades.

An event-stream stand-in for CIFAR10-DVS / N-MNIST that needs no download, made by the
simulator models/data/saccades.py shares with nmnist-sim (deterministic; cached under
$SPIKEFOLD_CACHE, default ~/.cache/spikefold):

  * Motion: like N-MNIST, three straight saccades tracing the triangle
    (0, 0) -> (+1, +0.5) -> (0, +1) -> (0, 0) pixels (dx, dy), each sampled at SUBSTEPS
    positions; the image is resampled bilinearly at each position, with black (0) outside it.
    The sensor is the image's own 8x8.
  * Pixels: each of the 8x8 pixels compares its log intensity log(I + EPS) with the level at
    its last event; every whole multiple of its contrast threshold crossed emits one ON (up) or
    OFF (down) event and moves the level by one threshold.  Thresholds are
    CONTRAST * (1 + MISMATCH * z) per pixel and polarity, z ~ N(0, 1) from a fixed seed (real
    sensors have such fixed-pattern mismatch); no other noise.
  * Frames: events are binned into T equal slices of the motion, counted per
    polarity: x has shape (T, 2, 8, 8) float32 (channel 0 ON, 1 OFF).
The train/test split is the digits split.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from spikefold.models.data.digits import digits_arrays
from spikefold.models.data.saccades import SaccadeDVS, cached, fits

PATH = ((0.0, 0.0), (1.0, 0.5), (0.0, 1.0), (0.0, 0.0))  # saccade vertices (dx, dy), pixels
SUBSTEPS = 20       # sensor samples per saccade
EPS = 0.1           # log(I + EPS): intensity offset, keeps black pixels finite
CONTRAST = 0.25     # nominal log-intensity change per event
MISMATCH = 0.1      # relative std of per-pixel thresholds
SEED = 0
VERSION = 1         # bump when the simulation changes (invalidates the cache)

SENSOR = SaccadeDVS(PATH, SUBSTEPS, EPS, CONTRAST, MISMATCH, SEED)


def positions() -> list[tuple[float, float]]:
    """Sensor offsets (dx, dy) at every sample of the three saccades."""
    return SENSOR.positions()


def simulate_dvs(images: np.ndarray, timesteps: int) -> np.ndarray:
    """Event frames (N, T, 2, H, W) float32 (event counts) for images (N, H, W) in [0, 1]."""
    return SENSOR.simulate(images, timesteps)


def _cache_key(train: bool, timesteps: int) -> tuple:
    return (VERSION, PATH, SUBSTEPS, EPS, CONTRAST, MISMATCH, SEED, train, timesteps)


def digits_dvs_arrays(train: bool, timesteps: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N, T, 2, 8, 8), labels (N,)), from the cache when present."""
    name = f"digits_dvs_{'train' if train else 'test'}_T{timesteps}"
    shape = (timesteps, 2, 8, 8)

    def make():
        images, labels = digits_arrays(train)
        fits(name, len(images), shape)
        return simulate_dvs(images, timesteps), labels
    return cached(name, _cache_key(train, timesteps), make, shape)


def digits_dvs(train: bool, timesteps: int) -> TensorDataset:
    x, y = digits_dvs_arrays(train, timesteps)
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
