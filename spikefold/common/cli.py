"""Command-line conventions every spikefold command follows.

- Bad input: one line `error: <file or option>: <problem>` on stderr, exit status 2,
  no traceback, no output file (`fail`, `InputError`, and `ArgumentParser`, whose
  usage errors are one line too).
- Ctrl-C: one line `error: interrupted`, exit status 130, from a command's first instruction
  (`guard_interrupts`, installed by `command`, by spikefold/commands.py before a console
  script imports anything heavy, and at the top of each command module run as a script);
  SIGTERM the same with `error: terminated`, exit status 143.  Both are exceptions raised in
  the main thread, so every `finally` runs: temporaries removed, Lava's processes ended.
- Options are range-checked when parsed (`positive_int`, `nonneg_int`, ...), and
  dataclass fields become flags (`add_dataclass_args`, `pick`).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import functools
import os
import signal
import sys
import threading
import typing

from spikefold.common.errors import InputError, require  # noqa: F401 - the commands' names for them


class _Stdout:
    """sys.stdout while a command runs: the same stream, remembering the error its own write or
    flush raised (a full device, a closed pipe), so that only that error is called stdout's."""

    def __init__(self, stream):
        self._stream, self.failed = stream, None

    def _remembered(self, call, *args):
        try:
            return call(*args)
        except OSError as e:
            self.failed = e
            raise

    def write(self, text):
        return self._remembered(self._stream.write, text)

    def flush(self):
        return self._remembered(self._stream.flush)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _close_bars() -> None:
    """Close the progress bars still open (a loop left by an exception), so that the error line
    starts a line of its own, not the tail of a bar's."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        try:
            bar.close()
        except Exception:       # noqa: BLE001 - a bar that cannot close leaves only its text
            pass


def fail(message: str, status: int = 2) -> typing.NoReturn:
    """Print a one-line error and exit (status 2: bad input)."""
    _close_bars()
    text = str(message).strip().splitlines()
    print(f"error: {text[0] if text else 'failed'}", file=sys.stderr)
    sys.exit(status)


INTERRUPTED = "interrupted (Ctrl-C)"
TERMINATED = "terminated (SIGTERM)"

# Files a command has put in place (spikefold.common.atomic appends each after its rename): what
# an interrupted command says it leaves (a training run's checkpoint of its last whole epoch).
WRITTEN: list = []


def stopped(what: str) -> str:
    """The one line of an interrupted command: what stopped it, and what it had written."""
    return f"{what}; {'wrote ' + ', '.join(map(str, WRITTEN)) + ' before it' if WRITTEN else 'no output was written'}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same `finally` blocks run; exit status 143."""

# Temporaries a write has open (spikefold.common.atomic registers them): removed before an
# immediate exit, which skips the `finally` blocks that would otherwise remove them.
TEMPORARIES: set = set()


def _in_import(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


_DEFERRED = {"depth": 0, "pending": None}


@contextlib.contextmanager
def signals_deferred():
    """Ctrl-C and SIGTERM that arrive inside the block act at its end (main thread only); a second
    one while the first waits acts at once (a block that hangs can always be left).  Blocking the
    signals (pthread_sigmask) is not enough where other threads exist: the kernel hands the signal
    to one of them and Python still runs the handler in the main thread, anywhere."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _DEFERRED["depth"] += 1
    try:
        yield
    finally:
        pending = None
        if _DEFERRED["depth"] == 1:              # the outermost block: what waited acts now
            pending, _DEFERRED["pending"] = _DEFERRED["pending"], None
        _DEFERRED["depth"] -= 1
        if pending is not None:
            raise Terminated if pending == signal.SIGTERM else KeyboardInterrupt


def _on_signal(signum, frame) -> None:
    """Ctrl-C (or SIGTERM) inside an import exits at once: Python's own handler would raise
    KeyboardInterrupt inside the importing module, where a library's bare `except:` can swallow it
    and leave a half-imported module behind (numpy without `iterable`).  Anywhere else it raises
    KeyboardInterrupt (Terminated), which `command` turns into one line after the `finally`
    blocks ran."""
    term = signum == signal.SIGTERM
    if _DEFERRED["depth"] and _DEFERRED["pending"] is None:
        _DEFERRED["pending"] = signum
        return
    if not _in_import(frame):
        raise Terminated if term else KeyboardInterrupt
    for tmp in list(TEMPORARIES):
        try:
            os.unlink(tmp)
        except OSError:
            pass
    os.write(2, f"error: {stopped(TERMINATED if term else INTERRUPTED)}\n".encode())
    os._exit(143 if term else 130)


_HANDLED = (signal.SIGINT, signal.SIGTERM)


def guard_interrupts() -> None:
    """Install the Ctrl-C and SIGTERM handler (main thread only; elsewhere signals cannot be
    handled).  A signal the process was started ignoring (SIGINT in a background job of a shell
    without job control) stays ignored, as Python itself leaves it."""
    if threading.current_thread() is threading.main_thread():
        for sig in _HANDLED:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, _on_signal)


def command(main):
    """Decorate a command's main(argv): InputError -> one line and exit 2; Ctrl-C -> one line
    and exit 130, SIGTERM 143 (what a shell user expects), stdout that cannot be written (a full
    device) -> one line and exit 2; never a traceback.  (A write that fails, a full disk
    or a read-only directory, is an InputError naming the path: spikefold.common.atomic.)"""
    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        main_thread = threading.current_thread() is threading.main_thread()
        previous = {sig: signal.getsignal(sig) for sig in _HANDLED} if main_thread else {}
        guard_interrupts()
        WRITTEN.clear()
        _DEFERRED["pending"] = None
        out = sys.stdout = _Stdout(sys.stdout)
        try:
            status = main(*args, **kwargs)
            sys.stdout.flush()
            return status
        except InputError as e:
            fail(str(e))
        except OSError as e:
            if e is not out.failed:
                raise
            out._stream = open(os.devnull, "w")      # Python's exit must not try it again
            fail(f"stdout: cannot write ({os.strerror(e.errno).lower() if e.errno else e})")
        except Terminated:
            fail(stopped(TERMINATED), 143)
        except KeyboardInterrupt:
            fail(stopped(INTERRUPTED), 130)
        finally:
            if sys.stdout is out:
                sys.stdout = out._stream             # /dev/null after stdout failed
            for sig, handler in previous.items():
                if handler is not None:
                    signal.signal(sig, handler)
    return wrapped


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the one-line error convention (no usage block before the message)."""

    def given(self, argv) -> dict:
        """{dest: value} of the options argv itself sets (defaults left out): parsed again with
        every default suppressed."""
        bare = copy.deepcopy(self)
        for action in bare._actions:
            action.default = argparse.SUPPRESS
        return vars(bare.parse_args(argv))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        fail(f"{self.prog}: {message} (see --help)")


def _bounded(kind, low, strict: bool, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{text} must be {'>' if strict else '>='} {low}")
        return value
    parse.__name__ = what
    return parse


positive_int = _bounded(int, 0, True, "a whole number")
nonneg_int = _bounded(int, 0, False, "a whole number")
positive_float = _bounded(float, 0.0, True, "a number")
nonneg_float = _bounded(float, 0.0, False, "a number")


def unit_float(text: str) -> float:
    """A probability: a number in [0, 1]."""
    value = nonneg_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} must be <= 1")
    return value


def add_dataclass_args(parser: argparse.ArgumentParser, cls, skip=(), defaults=None) -> None:
    """One --flag per field of dataclass `cls` (bools get --flag/--no-flag).

    `defaults` overrides field defaults (None = "fill in later").  Ranges are the
    dataclass's own business: its __post_init__ raises ValueError naming the field.
    """
    hints = typing.get_type_hints(cls)
    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = defaults.get(f.name, f.default)
        kind = hints[f.name]
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            base = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
            parser.add_argument(flag, type=base, default=default, metavar=f.name.upper())


def pick(cls, args: argparse.Namespace, **fixed):
    """An instance of dataclass `cls` from the parsed args (fields not given keep defaults)."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    values.update(fixed)
    return cls(**values)
