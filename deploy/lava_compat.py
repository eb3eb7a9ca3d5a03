"""Make lava-nc 0.10.0 importable on Python 3.11.  Import this before any `lava`.

lava-nc 0.10.0 (archived upstream, last release August 2024) declares
Python < 3.11.  One thing breaks on 3.11: `lava/magma/compiler/var_model.py`
gives three dataclasses (CoreEncoder, ChipEncoder, AxonEncoder) fields whose
default is a `ByteEncoder()` *instance*.  Since Python 3.11 `dataclasses`
rejects any default whose class is unhashable (a non-frozen dataclass with
eq=True has `__hash__ = None`) with "mutable default ... use
default_factory"; Python 3.10 only rejected list, dict and set.

The workaround, without touching site-packages: import that one module while
`dataclasses._get_field` lets dataclass-instance defaults through, exactly as
Python 3.10 did (the default instance is shared by every object, as it was
on 3.10; lava never mutates it).  The relaxation is scoped to that single
import and undone afterwards, so no other dataclass anywhere is affected.
Every other lava module was seen to import and run unchanged on 3.11
(DESIGN.md section 5).

One more thing breaks on every Python, when lava is imported after the process has used
multiprocessing (a tqdm progress bar is enough: it creates a multiprocessing lock, which fixes
the default start method): `lava/magma/runtime/message_infrastructure/multiprocessing.py` calls
`mp.set_start_method('fork')` at import, which raises "context has already been set" even when
the method set is already 'fork'.  That one import runs with a `set_start_method` that accepts
the method already in force (any other method still raises).

Lava is optional (the `lava` extra: lava-nc 0.10.0 and lava-dl 0.6.0 install on Python 3.11
with numpy 1.x only).  Without it this module imports and does nothing, and `require_lava()`
raises LavaMissing: one line naming the extra, which every command prints as its error.

Usage::

    from spikefold.deploy.lava_compat import require_lava
    require_lava()                       # LavaMissing (an InputError) when Lava is absent
    from lava.proc.lif.process import LIF
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import multiprocessing
import sys

from spikefold.common.errors import InputError

LAVA = importlib.util.find_spec("lava") is not None
LAVA_MISSING = ("Lava is not installed: it is the optional `lava` extra (lava-nc 0.10.0, lava-dl 0.6.0; "
                "Python 3.11 with numpy 1.x): `make setup`, or pip install -c requirements/constraints.txt "
                "'.[lava]' then pip install --no-deps --ignore-requires-python -r requirements/lava.txt")


class LavaMissing(InputError):
    """Lava is not installed; str(e) is LAVA_MISSING."""


def require_lava() -> None:
    """Raise LavaMissing unless Lava is installed (and make it importable on 3.11 when it is)."""
    if not LAVA:
        raise LavaMissing(LAVA_MISSING)
    ensure_lava_importable()

BROKEN_MODULE = "lava.magma.compiler.var_model"
START_METHOD_MODULE = "lava.magma.runtime.message_infrastructure.multiprocessing"


@contextlib.contextmanager
def _dataclass_instance_defaults_allowed():
    """Within the block, a dataclass field may default to a dataclass instance."""
    original = dataclasses._get_field

    def get_field(cls, a_name, a_type, *args):
        default = cls.__dict__.get(a_name, dataclasses.MISSING)
        klass = type(default)
        if dataclasses.is_dataclass(klass) and klass.__hash__ is None:
            # The 3.11 check is `default.__class__.__hash__ is None`: lend the
            # class a hash for the duration of this one field's processing.
            klass.__hash__ = object.__hash__
            try:
                return original(cls, a_name, a_type, *args)
            finally:
                klass.__hash__ = None
        return original(cls, a_name, a_type, *args)

    dataclasses._get_field = get_field
    try:
        yield
    finally:
        dataclasses._get_field = original


@contextlib.contextmanager
def _same_start_method_allowed():
    """Within the block, setting the multiprocessing start method already in force is a no-op."""
    original = multiprocessing.set_start_method

    def set_start_method(method, force=False):
        if not force and multiprocessing.get_start_method(allow_none=True) == method:
            return
        original(method, force=force)

    multiprocessing.set_start_method = set_start_method
    try:
        yield
    finally:
        multiprocessing.set_start_method = original


def ensure_lava_importable() -> None:
    """Import lava's var_model under the 3.10 dataclass rule and lava's multiprocessing module
    with the start method already in force accepted (both idempotent)."""
    if START_METHOD_MODULE not in sys.modules:
        with _same_start_method_allowed(), _dataclass_instance_defaults_allowed():
            importlib.import_module(START_METHOD_MODULE)
    if sys.version_info < (3, 11) or BROKEN_MODULE in sys.modules:
        return
    with _dataclass_instance_defaults_allowed():
        importlib.import_module(BROKEN_MODULE)


if LAVA:
    ensure_lava_importable()


def import_netx():
    """lava-dl's netx module (lava.lib.dl.netx.hdf5), imported quietly: lava-dl prints a warning
    about the Prophesee toolbox to stdout and torch logs "No CUDA runtime is found" to stderr on
    import, neither of which concerns a netx run on the CPU."""
    require_lava()
    import io
    import logging
    log = logging.getLogger("torch.utils.cpp_extension")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return importlib.import_module("lava.lib.dl.netx.hdf5")
    finally:
        log.setLevel(level)
