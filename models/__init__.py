"""models: STAA-SNN in PyTorch (neurons, attention, backbones, datasets, training)."""

from spikefold.version import __version__

__all__ = ["__version__"]
