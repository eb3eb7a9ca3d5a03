"""Atomic file writes: a crash, an error or Ctrl-C never leaves a partial file, or half a set.

`atomic_write` writes one file through a temporary beside it and renames it into
place.  `atomic_write_set` does the same for files that belong together (a NIR file
and its fold report; a report's Markdown, JSON and plots): every temporary is written
first, then all are renamed with SIGINT and SIGTERM held back, so an interrupted run
leaves either the old set or the new one.  (A power cut between two renames can still
split a set: POSIX has no multi-file rename.)
"""
from __future__ import annotations

import hashlib

import json
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Mapping

Writer = Callable[[Path], None]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def _signals_held():
    """SIGINT/SIGTERM delivered after the block, not inside it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def atomic_write_set(writers: Mapping[str | Path, Writer]) -> list[Path]:
    """Call write(tmp) for each destination, then rename every temporary into place."""
    items = [(Path(p), w) for p, w in writers.items()]
    tmps = []
    try:
        for path, write in items:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmps.append(_tmp(path))
            write(tmps[-1])
        with _signals_held():
            for (path, _), tmp in zip(items, tmps):
                os.replace(tmp, path)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    return [p for p, _ in items]


def atomic_write(path: str | Path, write: Writer) -> Path:
    """Call write(tmp) for a temporary path beside `path`, then rename it onto `path`."""
    return atomic_write_set({path: write})[0]


def json_writer(obj) -> Writer:
    return lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n")


def text_writer(text: str) -> Writer:
    return lambda tmp: tmp.write_text(text)


def write_json(path: str | Path, obj) -> Path:
    return atomic_write(path, json_writer(obj))


def sha256_file(path) -> str:
    """The SHA-256 of a file's bytes, hex, read 1 MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
