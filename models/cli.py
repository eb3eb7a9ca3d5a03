"""Command-line helpers: dataclass fields as flags, and the one-line-error convention."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing


def add_dataclass_args(parser: argparse.ArgumentParser, cls, skip=(), defaults=None) -> None:
    """One --flag per field of dataclass `cls` (bools get --flag/--no-flag).

    `defaults` overrides field defaults (None = "fill in later").
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


def fail(message: str, status: int = 2) -> typing.NoReturn:
    """Print a one-line error and exit (status 2: bad input)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)
