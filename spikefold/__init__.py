"""spikefold: attention-augmented spiking networks from PyTorch onto neuromorphic hardware.

One installed package; the stages keep the folders the project is known by:

    spikefold.models     models/     STAA-SNN and relatives, datasets, training     (a model)
    spikefold.compile    compile/    checkpoint -> folded NIR graph                 (a Graph)
    spikefold.chip       chip/       the chip both runners stand on                 (a Program)
    spikefold.deploy     deploy/     Graph -> Program, Lava, netx and ONNX exports
    spikefold.simulate   simulate/   the fast simulator, counters, the report
    spikefold.common     spikefold/common/   command-line conventions, validation, atomic writes

The stage functions are reachable from here, imported on first use (so `import spikefold` stays
light and never imports Lava):

    import spikefold as sf
    model, metrics = sf.train(sf.ModelConfig(arch="digitnet", neuron="lif"), sf.TrainConfig(epochs=5), "ckpt.pt")
    graph = sf.lower(model, (1, 8, 8))            # a Graph: every node an equation
    program = sf.quantize(graph)                  # a Program: Loihi's integers
    mapping = sf.map_program(program, sf.PROFILES["loihi2"])
    result = sf.Simulator(program).run(x)         # spike for spike what Lava runs
"""
from importlib import import_module

from spikefold.version import __version__

# name -> module defining it (one home each; this table only points there)
API = {
    "ModelConfig": "spikefold.models.config", "TrainConfig": "spikefold.models.config",
    "train": "spikefold.models.train", "model_from_checkpoint": "spikefold.models.checkpoint",
    "load_dataset": "spikefold.models.data",
    "lower": "spikefold.compile.pipeline", "LowerOptions": "spikefold.compile.lower_checkpoint",
    "lower_checkpoint": "spikefold.compile.lower_checkpoint", "read_nir": "spikefold.compile.nir_io",
    "save_nir": "spikefold.compile.nir_io", "GraphNet": "spikefold.compile.executor",
    "quantize": "spikefold.deploy.quantize", "Samples": "spikefold.deploy.samples",
    "test_samples": "spikefold.deploy.samples", "fit_inputs": "spikefold.deploy.samples",
    "PROFILES": "spikefold.chip.hardware", "map_program": "spikefold.chip.placement",
    "Simulator": "spikefold.simulate.engine",
    "evaluate": "spikefold.simulate.evaluate", "ReportOptions": "spikefold.simulate.report_build",
    "report_checkpoint": "spikefold.simulate.report_build", "report_graph": "spikefold.simulate.report_build",
    "lava_check": "spikefold.simulate.lava_check", "read_netx": "spikefold.deploy.netx_read",
}

__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        return getattr(import_module(API[name]), name)
    raise AttributeError(f"module 'spikefold' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
