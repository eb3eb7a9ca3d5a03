"""The one error bad input raises, for library code and commands alike: the library names the
file, option or field in it; a command (spikefold.common.cli.command) turns it into one line and
exit status 2.  Kept apart from the command-line module, so that no library module imports the
CLI to raise it."""
from __future__ import annotations


class InputError(ValueError):
    """Bad input; str(e) is one line naming the file (or option) and the problem."""


def require(ok: bool, message: str) -> None:
    """Raise InputError(message) unless ok (for dataclass __post_init__ range checks)."""
    if not ok:
        raise InputError(message)
