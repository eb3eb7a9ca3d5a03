"""One validation layer per kind of input, shared by every command.

    output paths      `outputs`: distinct from every input, not a directory, writable;
                      checked before any work is done.
    checkpoints       `checkpoint_size` (declared tensor bytes, before loading) and
                      `finite_tensors` (no NaN or Inf in the weights).
    NIR files         `nir_declared` (every HDF5 dataset's declared shape x item size and
                      every node type, before any array is read); values (finite arrays,
                      LIF tau > 0 and threshold > 0) are checked node by node as the file
                      is read, in compile/nir_read.py (`_check_values`).
    input arrays      `finite_array`.
    options           range-checked by spikefold.common.cli's argparse types and the config
                      dataclasses' __post_init__.

Every failure is an InputError whose text is one line naming the file and the problem.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np

from spikefold.common.cli import InputError

MAX_MB = 1024     # default limit on a NIR graph's or checkpoint's declared array bytes (--max-mb)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def outputs(outs: Iterable[str | Path], ins: Iterable[str | Path], directory: bool = False) -> None:
    """Refuse, before any work, outputs that would overwrite an input or cannot be written.

    directory=True: each output is a directory (it may exist; a file there is refused)."""
    ins = [Path(p) for p in ins if p is not None]
    for out in map(Path, outs):
        for src in ins:
            if _same(out, src) or out.resolve() == src.resolve():
                raise InputError(f"{out}: output would overwrite the input {src}; choose another path")
        if directory:
            if out.exists() and not out.is_dir():
                raise InputError(f"{out}: exists and is not a directory (the output directory)")
        elif out.is_dir():
            raise InputError(f"{out}: is a directory; the output must be a file path")
        parent = out if directory and out.is_dir() else out.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{out}: cannot write there ({parent} is not a writable directory)")


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
    a = np.asarray(a)
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        raise InputError(f"{where}: {name} holds {int((~np.isfinite(a)).sum())} NaN or Inf value(s)")
