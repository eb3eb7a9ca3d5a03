"""Lava against the fast simulator: a program run in Lava's bit-accurate simulator (deploy/lava_graph.py)
and in simulate/engine.py on the same inputs, compared readout for readout (and, for a lava-dl
netx file, block for block), with the float graph's predictions beside them.  The library
function behind deploy/to_lava.py and the demo."""
from __future__ import annotations

import time

import numpy as np
import torch

from spikefold.chip.program import Program
from spikefold.common.errors import InputError
from spikefold.compile.executor import GraphNet
from spikefold.compile.graph import Graph
from spikefold.deploy.quantize import quantize
from spikefold.simulate.engine import Simulator


def lava_check(graph: Graph, x: torch.Tensor, y: torch.Tensor | None = None, program: Program | None = None,
               dataset: str = "", stream: bool = False) -> dict:
    """Run `program` (default: quantize(graph)) on Lava's bit-accurate simulator for inputs x
    (B, ...) and compare: Lava's predictions, the float graph's, the accuracy of both against
    labels y (B,) if given, and on how many samples the fast simulator's readout is identical
    (one at a time: mode "full", Lava's T + depth steps per sample; `stream`: mode "window",
    and "one_at_a_time_identical" counts the samples whose streamed readout is the one-at-a-time
    run's, mode "full")."""
    from spikefold.deploy.lava_graph import run_lava, run_lava_stream   # one line without Lava
    program = program if program is not None else quantize(graph)
    if len(x) == 0:
        raise InputError(f"{dataset or 'inputs'}: no samples to run")
    sim = Simulator(program)
    sim.check_memory(len(x))
    t0 = time.perf_counter()
    ro, _ = (run_lava_stream if stream else run_lava)(program, x)
    seconds = time.perf_counter() - t0
    pred = program.logits(ro).mean(0).argmax(1)
    sim = sim.run(x, mode="window" if stream else "full")
    same = lambda a, b: int(sum(torch.equal(a[:, k], b[:, k]) for k in range(len(x))))
    one_at_a_time = same(ro, Simulator(program).run(x).readout) if stream else None
    with torch.no_grad():
        float_pred = GraphNet(graph)(x).mean(0).argmax(1)
    acc = (lambda p: None) if y is None else (lambda p: 100.0 * float((p == y).float().mean()))
    return {"dataset": dataset, "samples": len(x), "labels": None if y is None else y.tolist(),
            "lava": pred.tolist(), "float": float_pred.tolist(), "accuracy": acc(pred),
            "float_accuracy": acc(float_pred), "agreement": 100.0 * float((pred == float_pred).float().mean()),
            "spikes_per_sample": sum(v["spikes"] for v in sim.counts["layers"].values()) / len(x),
            "simulator_identical": same(ro, sim.readout), "stream": stream,
            "one_at_a_time_identical": one_at_a_time, "seconds": seconds, "clips": program.report["clips"], "relays": sum(
                n.relay for n in program.neurons.values()), "depth": program.depth}


def lava_layout(a: torch.Tensor) -> np.ndarray:
    """One sample's record (steps, C, H, W) or (steps, F) in Lava's layout (W, H, C, steps) or (F, steps)."""
    a = np.moveaxis(a.numpy(), 0, -1)
    return a.transpose(2, 1, 0, 3) if a.ndim == 4 else a


def netx_lava_check(path, program: Program, x: torch.Tensor, **network_args) -> dict:
    """lava-dl's own netx Network on the netx file `path` (deploy/lava_graph.py run_netx_file),
    one run per sample x[b] (the input layer's bias, (*program.input_shape) integers) of
    program.steps steps, against the fast simulator on read_netx's program of the same file: on
    how many samples every block's spikes are identical at every step, and Lava's predictions
    (argmax of the last block's spikes summed over the steps)."""
    from spikefold.deploy.lava_graph import run_netx_file        # one line without Lava
    sim = Simulator(program).run(x, record=True)
    names, identical, pred = list(program.neurons), 0, []
    t0 = time.perf_counter()
    for b in range(len(x)):
        bias = x[b].numpy().astype(int).transpose(*range(x[b].dim())[::-1])   # (W, H, C): Lava's layout
        lava = run_netx_file(path, bias, program.steps, **network_args)
        identical += all(np.array_equal(lava_layout(sim.spikes[n][:, b]).reshape(s.shape), s)
                         for n, (s, _, _) in zip(names, lava))
        pred.append(int(lava[-1][0].reshape(-1, program.steps).sum(1).argmax()))
    return {"samples": len(x), "identical": identical, "lava": pred, "seconds": time.perf_counter() - t0}
