"""One validation layer per kind of input, shared by every command.

    output paths      `outputs`: distinct from every input, a new path or a regular file (never
                      a device), writable; checked before any work is done.
    checkpoints       `checkpoint_size` (declared tensor bytes, before loading) and
                      `finite_tensors` (no NaN or Inf in the weights).
    NIR files         `nir_declared` (every HDF5 dataset's declared shape x item size and
                      every node type, before any array is read); values (finite arrays,
                      LIF tau > 0 and threshold > 0) are checked node by node as the file
                      is read, in compile/nir_read.py (`check_values`).
    input arrays      `read_arrays` (.npy / .npz: declared shape and dtype read from each array's
                      header before any data, so a 300-byte file cannot declare gigabytes), then
                      `finite_array` (no NaN or Inf, nothing beyond float32's range).
    work              `work` (the memory a run will hold, estimated before allocating, against
                      --max-work-mb).
    options           range-checked by spikefold.common.cli's argparse types and the config
                      dataclasses' __post_init__.

Every failure is an InputError whose text is one line naming the file and the problem.
"""
from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np

from spikefold.common.atomic import WriteError, check_target
from spikefold.common.cli import InputError, positive_int

MAX_MB = 1024        # default limit on a NIR graph's or checkpoint's declared array bytes (--max-mb)
MAX_WORK_MB = 4096   # default limit on what one batch of a run holds in memory (--max-work-mb)
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Steps per sample a file or option may ask for.  Loihi itself runs any number of steps; the
# papers spikefold deploys use 1-16 (STAA-SNN: 4-6; the NIR paper's N-MNIST network: 300 bins).
# Beyond this a value is a mistake far more often than a wish; --max-work-mb bounds the memory.
MAX_TIMESTEPS = 100_000


def timesteps_arg(text: str) -> int:
    """argparse type of --timesteps: a whole number in [1, MAX_TIMESTEPS]."""
    value = positive_int(text)
    if value > MAX_TIMESTEPS:
        raise argparse.ArgumentTypeError(f"{text} must be <= {MAX_TIMESTEPS:,} steps per sample")
    return value


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def output_path(text: str | Path | None, option: str, default: Path) -> Path:
    """The output path an option names (`default` when it was not given); '' is refused, never
    read as "the default"."""
    if text is None:
        return Path(default)
    if str(text).strip() == "":
        raise InputError(f"{option} '': an empty output path; name a file or leave the option out")
    return Path(text)


def outputs(outs: Iterable[str | Path], ins: Iterable[str | Path], directory: bool = False) -> None:
    """Refuse, before any work, outputs that would overwrite an input or cannot be written.

    directory=True: each output is a directory (it may exist; a file there is refused)."""
    ins = [Path(p) for p in ins if p is not None]
    for out in outs:
        if str(out).strip() == "":
            raise InputError("'': an empty output path; name a file or directory")
        out = Path(out)
        _fits_the_filesystem(out)
        for src in ins:
            if _same(out, src) or out.resolve() == src.resolve():
                raise InputError(f"{out}: output would overwrite the input {src}; choose another path")
        if directory:
            if out.exists() and not out.is_dir():
                raise InputError(f"{out}: exists and is not a directory (the output directory)")
        elif out.is_dir():
            raise InputError(f"{out}: is a directory; the output must be a file path")
        else:
            try:
                check_target(out)
            except WriteError as e:
                raise InputError(str(e)) from None
        parent = out if directory and out.is_dir() else out.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{out}: cannot write there ({parent} is not a writable directory)")


NAME_MAX, PATH_MAX = 255, 4096    # bytes in one file name, in a whole path (Linux's limits)
TMP_ROOM = 40                     # what a temporary beside the output adds to its name


def _fits_the_filesystem(out: Path) -> None:
    """A name or path longer than the filesystem takes, refused before any work (shown shortened)."""
    shown = str(out) if len(str(out)) <= 80 else f"{str(out)[:60]}...{str(out)[-16:]}"
    for part in out.parts:      # the output's own name gets a temporary's suffix beside it
        room = NAME_MAX - (TMP_ROOM if part == out.name else 0)
        if len(os.fsencode(part)) > room:
            raise InputError(f"{shown}: a name of {len(os.fsencode(part))} bytes, over the {room} a file name may "
                             f"have here ({NAME_MAX}{', less room for the temporary written beside it' * (room < NAME_MAX)})")
    size = len(os.fsencode(str(out.absolute())))
    if size > PATH_MAX - TMP_ROOM:
        raise InputError(f"{shown}: a path of {size:,} bytes, over the {PATH_MAX - TMP_ROOM:,} a path may have here")


def input_file(path: str | Path, what: str) -> Path:
    """An existing regular file, or InputError naming why not."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a {what}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def _limit(max_mb: float) -> int:
    return int(max_mb * (1 << 20))


def checkpoint_size(path: Path, max_mb: float = MAX_MB) -> None:
    """The tensors a torch zip checkpoint declares must fit in `max_mb` MiB (read from the
    zip directory, before anything is unpickled)."""
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError):
        return   # not a zip: torch.load refuses it with its own message
    if total > _limit(max_mb):
        raise InputError(f"{path}: declares {total / (1 << 20):,.0f} MiB of data, over the "
                         f"{max_mb:g} MiB limit (raise it with --max-mb)")


def finite_tensors(path: Path, tensors: dict) -> None:
    """No NaN or Inf in a state dict's floating-point tensors."""
    import torch
    for name, t in tensors.items():
        if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise InputError(f"{path}: parameter {name} holds {bad} NaN or Inf value(s)")


def nir_declared(path: Path, known: set[str], max_mb: float = MAX_MB) -> None:
    """Before nir.read reads any array: every node's type is one spikefold knows (NIR's own
    reader fails on others with a bare assertion) and the arrays' declared sizes, each and
    together, fit in `max_mb` MiB (an HDF5 file can declare terabytes in a few kilobytes)."""
    import h5py
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not a NIR file (not HDF5: {str(e).splitlines()[0][:120]})") from None
    total, limit = 0, _limit(max_mb)
    with f:
        if "node" not in f:
            raise InputError(f"{path}: not a NIR file (no 'node' group)")
        datasets = []
        f["node"].visititems(lambda name, obj: datasets.append((name, obj))
                             if isinstance(obj, h5py.Dataset) else None)
        for name, ds in datasets:
            size = int(np.prod(ds.shape, dtype=np.float64)) * ds.dtype.itemsize if ds.shape else 0
            total += size
            if size > limit or total > limit:
                raise InputError(f"{path}: dataset {name} declares shape {tuple(ds.shape)} "
                                 f"({total / (1 << 20):,.0f} MiB so far), over the {max_mb:g} MiB "
                                 f"limit (raise it with --max-mb)")
        for name, ds in datasets:          # NIR's own reader divides by these while reading
            field = name.rsplit("/", 1)[-1]
            if field in ("stride", "kernel_size", "dilation") and ds.size <= 16 and np.any(ds[()] < 1):
                node = name.rsplit("/", 2)[-2]
                raise InputError(f"{path}: node {node}: {field} must be >= 1 (got {np.asarray(ds[()]).tolist()})")
        for name, ds in datasets:
            if not (name.startswith("nodes/") and name.endswith("/type") and name.count("/") == 2):
                continue
            kind = ds[()]
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind not in known:
                node = name.split("/")[1]
                raise InputError(f"{path}: node {node} has NIR type {kind!r}, which spikefold "
                                 f"cannot run (known: {', '.join(sorted(known))})")


def finite_array(where: str, name: str, a) -> None:
    """No NaN or Inf, and nothing a float32 cannot hold (1e300 would become Inf in the cast)."""
    a = np.asarray(a)
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        raise InputError(f"{where}: {name} holds {int((~np.isfinite(a)).sum())} NaN or Inf value(s)")
    if a.size and a.dtype.kind in "fiu" and float(np.abs(a).max()) > FLOAT32_MAX:
        raise InputError(f"{where}: {name} holds values beyond float32's range (|x| up to "
                         f"{float(np.abs(a).max()):.3g}, the most is {FLOAT32_MAX:.3g})")


def _npy_header(f, where: str) -> tuple[tuple, np.dtype]:
    """(shape, dtype) an .npy stream declares, read from its header alone."""
    from numpy.lib import format as npy
    version = npy.read_magic(f)
    shape, _, dtype = (npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0)(f)
    if dtype.hasobject:
        raise InputError(f"{where}: holds Python objects (dtype {dtype}); spikefold reads numeric arrays only")
    return tuple(shape), dtype


def read_arrays(path: str | Path, max_mb: float = MAX_MB) -> dict[str, np.ndarray]:
    """The arrays of an .npy ({"x": array}) or .npz file, each array's declared shape and dtype
    checked against `max_mb` MiB before its data is read; InputError naming the file (and the
    array) for anything that is not a readable numeric array."""
    path = input_file(path, "file of arrays")
    limit, total = _limit(max_mb), 0
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith(".npy")]
                for n in names:
                    with z.open(n) as f:
                        shape, dtype = _npy_header(f, f"{path}: array {n[:-4]}")
                    total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                with np.load(path, allow_pickle=False) as data:
                    _under(path, total, limit, max_mb)
                    return {k: data[k] for k in data.files}
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f, str(path))
        _under(path, int(np.prod(shape, dtype=np.float64)) * dtype.itemsize, limit, max_mb)
        return {"x": np.load(path, allow_pickle=False)}
    except InputError:
        raise
    except Exception as e:   # a damaged zip or header, a bad CRC, a truncated array
        text = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise InputError(f"{path}: not a readable .npy or .npz file ({text})") from None


def _under(path, nbytes: int, limit: int, max_mb: float) -> None:
    if nbytes > limit:
        raise InputError(f"{path}: declares {nbytes / (1 << 20):,.0f} MiB of arrays, over the "
                         f"{max_mb:g} MiB limit (raise it with --max-mb)")


def work(where: str, nbytes: float, max_mb: float = MAX_WORK_MB, hint: str = "") -> None:
    """Refuse, before allocating, a run that would hold `nbytes` at once."""
    if nbytes > _limit(max_mb):
        raise InputError(f"{where}: would hold about {nbytes / (1 << 20):,.0f} MiB at once, over the "
                         f"{max_mb:g} MiB limit ({hint + '; ' if hint else ''}raise it with --max-work-mb)")
