"""The spikefold version, stored in every checkpoint and NIR file."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spikefold")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
