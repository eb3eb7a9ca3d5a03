"""The console scripts (pyproject.toml [project.scripts]): each installs the Ctrl-C handler
before it imports its command, whose imports (torch, h5py, Lava) take seconds, so a Ctrl-C at any
point gives one line and exit status 130 (spikefold.common.cli.guard_interrupts).

This module imports nothing heavy: only the standard library and spikefold.common.cli."""
from __future__ import annotations

from importlib import import_module

from spikefold.common.cli import guard_interrupts

COMMANDS = {
    "demo": "spikefold.demo",
    "train": "spikefold.models.train",
    "summary": "spikefold.models.summary",
    "to_nir": "spikefold.compile.to_nir",
    "to_lava": "spikefold.deploy.to_lava",
    "to_netx": "spikefold.deploy.to_netx",
    "to_onnx": "spikefold.deploy.to_onnx",
    "map": "spikefold.deploy.map",
    "simulate": "spikefold.simulate.run",
    "report": "spikefold.simulate.report",
    "count": "spikefold.simulate.count",
}


def _launcher(module: str):
    def launch() -> int:
        guard_interrupts()
        return import_module(module).main()
    launch.__name__ = launch.__qualname__ = module.rsplit(".", 1)[1]
    launch.__doc__ = f"The console script running {module}.main()."
    return launch


globals().update({name: _launcher(module) for name, module in COMMANDS.items()})
