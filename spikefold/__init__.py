"""spikefold: what the four stages share (command-line conventions, input validation,
atomic writes) and the end-to-end demo (`python -m spikefold.demo`)."""

from spikefold.version import __version__

__all__ = ["__version__"]
