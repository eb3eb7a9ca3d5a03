"""The field's own counters, run themselves on a spikefold network: syops-counter 0.0.5 and
NeuroBench 2.3.0.  Used to cross-check simulate/counters/network.py (tests, bench/counters_vs_peers.py);
nothing in the report depends on them."""
from __future__ import annotations

import sys
import warnings

import torch
from torch.utils.data import DataLoader

from spikefold.simulate.counters.network import NEURON_TYPES

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import syops.engine as syops_engine
    from syops.ops import LIF_syops_counter_hook
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel


def syops_per_module(model: torch.nn.Module, x: torch.Tensor) -> dict:
    """syops-counter's own hooks on every module it counts (our neurons registered with its LIF
    hook, as a spikingjelly LIF node would be), one call on x: {module path: (ops, ACs, MACs)}
    per sample.

    Read module by module rather than through syops' total, which stops at the first counted
    module of a branch and so would drop the attention convs inside a STAA-LIF (the flat sum
    is simulate/counters/network.py's documented rule)."""
    syops_engine.CUSTOM_MODULES_MAPPING = {t: LIF_syops_counter_hook for t in NEURON_TYPES}
    m = syops_engine.add_syops_counting_methods(model)
    m.start_syops_count(ost=sys.stderr, verbose=False, ignore_list=[])
    try:
        with torch.no_grad():
            m(x)
        return {name: tuple(float(v) for v in mod.__syops__[:3] / m.__batch_counter__)
                for name, mod in m.named_modules() if hasattr(mod, "__syops__")}
    finally:
        m.stop_syops_count()
        syops_engine.CUSTOM_MODULES_MAPPING = {}


def neurobench_metrics(model: torch.nn.Module, loader: DataLoader) -> dict:
    """NeuroBench's Footprint, ConnectionSparsity, SynapticOperations and ActivationSparsity of
    `model` over `loader`'s (x, y) batches (our neuron modules registered as activations)."""
    nb = TorchModel(model)
    for t in NEURON_TYPES:
        nb.add_activation_module(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Benchmark(nb, loader, [], [lambda p: p.mean(0).argmax(1)],
                         [[Footprint, ConnectionSparsity], [SynapticOperations, ActivationSparsity]]).run()
