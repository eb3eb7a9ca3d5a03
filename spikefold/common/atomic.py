"""Atomic file writes: a crash, an error or Ctrl-C never leaves a partial file, or half a set.

`atomic_write` writes one file through a temporary beside it and renames it into
place.  `atomic_write_set` does the same for files that belong together (a NIR file
and its fold report; a report's Markdown, JSON and plots): every temporary is written
first, then all are renamed with SIGINT and SIGTERM held back and the target directories
locked (flock), so an interrupted run leaves either the old set or the new one, and two runs
writing the same set leave one run's set, never a mix.  (A power cut between two renames can
still split a set: POSIX has no multi-file rename.)

A write that fails (a full disk, a file-size limit, a read-only directory) raises WriteError,
one line naming the path; its temporaries and any directory it created are removed.  A target
that exists and is not a regular file (a device such as /dev/null, a FIFO) is refused, never
replaced.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import signal
import stat
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Mapping

from spikefold.common.cli import TEMPORARIES, WRITTEN, InputError, signals_deferred

Writer = Callable[[Path], None]


class WriteError(InputError):
    """An output could not be written; str(e) names the path and the reason."""


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def check_target(path: str | Path) -> Path:
    """`path` as an output: a new path or an existing regular file, else WriteError."""
    path = Path(path)
    if str(path) in ("", "."):
        raise WriteError(f"{str(path)!r}: an empty output path")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as e:
        raise WriteError(f"{path}: cannot write there ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
        raise WriteError(f"{path}: is {kind}; spikefold writes only to new paths or regular files")
    return path


def _why(e: OSError) -> str:
    known = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "file too large (a file-size limit)",
             errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
             errno.EACCES: "permission denied"}
    return known.get(e.errno, e.strerror or type(e).__name__)


@contextmanager
def _locked(directories):
    """An exclusive flock on each directory (sorted, so two writers never deadlock)."""
    with ExitStack() as stack:
        for d in sorted({str(Path(d).resolve()) for d in directories}):
            fd = os.open(d, os.O_RDONLY)
            stack.callback(os.close, fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def _missing_parents(path: Path) -> list[Path]:
    """The directories above `path` that do not exist yet, outermost first."""
    out, p = [], path.parent
    while not p.exists():
        out.append(p)
        p = p.parent
    return out[::-1]


@contextmanager
def signals_held():
    """SIGINT/SIGTERM act after the block, not inside it (main thread only): spikefold's handler
    defers them (spikefold.common.cli.signals_deferred), and the thread's mask holds them for a
    process without that handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with signals_deferred():
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def atomic_write_set(writers: Mapping[str | Path, Writer]) -> list[Path]:
    """Call write(tmp) for each destination, then rename every temporary into place; WriteError
    (one line naming the path) when a write fails, with nothing left behind."""
    items = [(check_target(p), w) for p, w in writers.items()]
    created = sorted({d for path, _ in items for d in _missing_parents(path)}, key=lambda d: len(d.parts))
    tmps, path, done = [], None, False
    try:
        for path, write in items:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmps.append(_tmp(path))
            TEMPORARIES.add(str(tmps[-1]))
            write(tmps[-1])
        path = None
        with signals_held(), _locked({p.parent for p, _ in items}):
            for (path, _), tmp in zip(items, tmps):
                check_target(path)
                os.replace(tmp, path)
                if path not in WRITTEN:
                    WRITTEN.append(path)
        done = True
    except OSError as e:
        where = path if path is not None else items[0][0]
        raise WriteError(f"{where}: cannot write ({_why(e)}); nothing was written") from None
    finally:
        for tmp in tmps:
            TEMPORARIES.discard(str(tmp))
            tmp.unlink(missing_ok=True)
        if not done:
            for d in reversed(created):
                try:
                    d.rmdir()          # only if empty: never anything of the user's
                except OSError:
                    pass
    return [p for p, _ in items]


def atomic_write(path: str | Path, write: Writer) -> Path:
    """Call write(tmp) for a temporary path beside `path`, then rename it onto `path`."""
    return atomic_write_set({path: write})[0]


def json_writer(obj) -> Writer:
    return lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n")


def text_writer(text: str) -> Writer:
    return lambda tmp: tmp.write_text(text, errors="surrogateescape")   # a path of non-UTF-8 bytes as given


def write_json(path: str | Path, obj) -> Path:
    return atomic_write(path, json_writer(obj))


def sha256_file(path) -> str:
    """The SHA-256 of a file's bytes, hex, read 1 MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
