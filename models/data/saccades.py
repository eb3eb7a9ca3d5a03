"""The one DVS simulator behind digits-dvs and nmnist-sim: images seen by an event-camera pixel
array while they move along three saccades (the N-MNIST recording protocol, Orchard et al. 2015),
binned into event-count frames.  Deterministic; the datasets cache its output under
$SPIKEFOLD_CACHE (default ~/.cache/spikefold).

  * Motion: the image moves on the sensor along the closed polygon `path` (pixels (dx, dy),
    x to the right, y down, first vertex (0, 0) = the last), three straight saccades for a
    triangle, each sampled at `substeps` evenly spaced positions after its start (the sensor's
    sampling instants); at each the image is resampled bilinearly, black (0) outside it.  With
    `sensor` set, the image is first placed with its top-left corner at the sensor's (0, 0) on a
    black sensor-sized canvas, and what moves past the canvas edge is lost.
  * Pixels: each pixel compares its log intensity log(I + eps) with the level at its last
    event; every whole multiple of its contrast threshold crossed emits one ON (up) or OFF
    (down) event and moves the level by one threshold.  Thresholds are
    contrast * clip(1 + mismatch * z, 0.5, 1.5) per pixel and polarity, z ~ N(0, 1) from `seed`
    (fixed-pattern mismatch, as in real sensors); no other noise.
  * Frames: sample k of K (= 3 * substeps) falls in bin k * T // K; frames count the events per
    bin, pixel and polarity: (N, T, 2, H, W), channel 0 ON, channel 1 OFF.  T dividing K gives
    every bin the same number of samples.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Callable

import numpy as np


def cache_dir() -> Path:
    return Path(os.environ.get("SPIKEFOLD_CACHE", Path.home() / ".cache" / "spikefold"))


def shift_bilinear(images: np.ndarray, dx: float, dy: float, pad: int = 2) -> np.ndarray:
    """images (N, H, W) moved by (dx, dy) pixels, bilinear, zero outside; |dx|, |dy| < pad."""
    n, h, w = images.shape
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad), images.dtype)
    padded[:, pad:pad + h, pad:pad + w] = images
    ix, fx = int(np.floor(dx)), dx - np.floor(dx)
    iy, fy = int(np.floor(dy)), dy - np.floor(dy)

    def window(oy, ox):  # out[y, x] = in[y - oy, x - ox]
        return padded[:, pad - oy:pad - oy + h, pad - ox:pad - ox + w]

    return ((1 - fy) * (1 - fx) * window(iy, ix) + (1 - fy) * fx * window(iy, ix + 1)
            + fy * (1 - fx) * window(iy + 1, ix) + fy * fx * window(iy + 1, ix + 1))


@dataclass(frozen=True)
class SaccadeDVS:
    """A simulated event camera and the saccades it records (module docstring)."""

    path: tuple                 # polygon vertices (dx, dy) in pixels, path[0] == path[-1] == (0, 0)
    substeps: int               # sensor samples per saccade
    eps: float                  # log(I + eps): intensity offset, keeps black pixels finite
    contrast: float             # nominal log-intensity change per event
    mismatch: float             # relative std of per-pixel thresholds
    seed: int                   # of the threshold mismatch
    sensor: int | None = None   # side of the square pixel array; None: the image's own size

    def positions(self) -> list[tuple[float, float]]:
        """Image offsets (dx, dy) at every sensor sample of the saccades, in time order."""
        out = []
        for (x0, y0), (x1, y1) in zip(self.path[:-1], self.path[1:]):
            for k in range(1, self.substeps + 1):
                a = k / self.substeps
                out.append((x0 + a * (x1 - x0), y0 + a * (y1 - y0)))
        return out

    def place(self, images: np.ndarray) -> np.ndarray:
        """images (N, h, w) on the black sensor canvas (N, S, S), top-left corner at (0, 0)."""
        if self.sensor is None:
            return images
        n, h, w = images.shape
        if h > self.sensor or w > self.sensor:
            raise ValueError(f"{h}x{w} images do not fit a {self.sensor}x{self.sensor} sensor")
        canvas = np.zeros((n, self.sensor, self.sensor), images.dtype)
        canvas[:, :h, :w] = images
        return canvas

    def simulate(self, images: np.ndarray, timesteps: int, dtype=np.float32) -> np.ndarray:
        """Event frames (N, T, 2, S, S) of `dtype` (event counts) for images (N, h, w) in [0, 1]."""
        images = self.place(images)
        n, h, w = images.shape
        z = np.random.default_rng(self.seed).standard_normal((2, h, w))
        thr = self.contrast * np.clip(1 + self.mismatch * z, 0.5, 1.5)  # (polarity, H, W)
        level = np.log(images + self.eps)
        frames = np.zeros((n, timesteps, 2, h, w), dtype)
        steps = self.positions()
        pad = max(2, int(np.ceil(max(max(abs(dx), abs(dy)) for dx, dy in steps))) + 1)
        for k, (dx, dy) in enumerate(steps):
            log_i = np.log(shift_bilinear(images, dx, dy, pad) + self.eps)
            diff = log_i - level
            on = np.floor(np.maximum(diff, 0) / thr[0])
            off = np.floor(np.maximum(-diff, 0) / thr[1])
            level = level + on * thr[0] - off * thr[1]
            t = k * timesteps // len(steps)
            frames[:, t, 0] += on.astype(dtype)
            frames[:, t, 1] += off.astype(dtype)
        return frames


def cached(name: str, key: tuple, make: Callable[[], tuple[np.ndarray, np.ndarray]]
           ) -> tuple[np.ndarray, np.ndarray]:
    """(frames, labels) from $SPIKEFOLD_CACHE/<name>_<hash of key>.npz, else make() them and
    store them there (atomically: a concurrent reader never sees half a file)."""
    path = cache_dir() / f"{name}_{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path) as f:
            return f["frames"], f["labels"]
    frames, labels = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, frames=frames, labels=labels)
    os.replace(tmp, path)
    return frames, labels


def sensor_key(sensor: SaccadeDVS) -> tuple:
    """The sensor's parameters as a tuple (part of a cache key)."""
    return astuple(sensor)
