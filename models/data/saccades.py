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
import sys
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from spikefold.common.validate import MAX_WORK_MB
from spikefold.models.data.errors import DatasetNotFound


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


def cached(name: str, key: tuple, make: Callable[[], tuple[np.ndarray, np.ndarray]], frame_shape: tuple,
           classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N, *frame_shape), labels (N,) in [0, classes)) from
    $SPIKEFOLD_CACHE/<name>_<hash of key>.npz, else make() them and store them there (atomically:
    a concurrent reader never sees half a file).

    A cache is a cache: a cached file that cannot be read, or holds anything but those two arrays
    (truncated, garbage, a pickle, another shape), is made again and replaced, with a note on
    stderr; one that cannot be replaced (a directory of that name) is named in a DatasetNotFound.
    A cache directory that cannot be written (a file, read-only, a full disk) is named in a note
    and the frames are used from memory.  (make() checks the split fits first: `fits`.)"""
    path = cache_dir() / f"{name}_{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}.npz"
    if path.is_dir():
        raise DatasetNotFound(f"{path}: is a directory where a cached {name} file belongs (remove it, "
                              "or set SPIKEFOLD_CACHE to another folder)")
    if path.exists():
        try:
            return _read_cached(path, frame_shape, classes)
        except Exception as e:           # noqa: BLE001 - any damage: the cache is made again
            print(f"note: {path}: damaged cache file ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                  "made again", file=sys.stderr)
    frames, labels = make()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez_compressed(f, frames=frames, labels=labels)
        os.replace(tmp, path)
    except OSError as e:
        print(f"note: cannot cache {name} in {path.parent} ({e.strerror or e}); used from memory",
              file=sys.stderr)
    finally:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
    return frames, labels


def fits(name: str, samples: int, frame_shape: tuple) -> None:
    """Refuse, before simulating, a split whose event counts (2 bytes each while simulated) would
    exceed the work limit (spikefold.common.validate.MAX_WORK_MB): ValueError naming the dataset."""
    nbytes = 2 * samples * int(np.prod(frame_shape))
    if nbytes > MAX_WORK_MB * (1 << 20):
        raise ValueError(f"{name}: {samples} samples of {'x'.join(map(str, frame_shape))} event counts would hold "
                         f"about {nbytes / (1 << 20):,.0f} MiB, over the {MAX_WORK_MB} MiB work limit "
                         "(use a smaller --timesteps)")


def _header(archive, key: str) -> tuple[tuple, np.dtype]:
    """An .npz member's (shape, dtype), read from its header before any data."""
    with archive.zip.open(key + ".npy") as m:
        version = np.lib.format.read_magic(m)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(m)
    return shape, dtype


def _read_cached(path: Path, frame_shape: tuple, classes: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        if not hasattr(f, "files") or sorted(f.files) != ["frames", "labels"]:
            raise ValueError("not an .npz archive of frames and labels")
        (fs, fd), (ls, ld) = _header(f, "frames"), _header(f, "labels")
        if fs[1:] != tuple(frame_shape) or fd.kind not in "uif" or ls != fs[:1] or ld.kind not in "ui":
            raise ValueError(f"frames {fd} {fs} and labels {ld} {ls}, expected (N, {', '.join(map(str, frame_shape))})"
                             " and (N,) integers")
        fits(path.name, fs[0], fs[1:])          # a forged header never allocates
        frames, labels = f["frames"], f["labels"]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels outside [0, {classes})")
    if frames.dtype.kind == "f" and not np.isfinite(frames).all():
        raise ValueError("frames hold NaN or Inf")
    return frames, labels


def sensor_key(sensor: SaccadeDVS) -> tuple:
    """The sensor's parameters as a tuple (part of a cache key)."""
    return astuple(sensor)
