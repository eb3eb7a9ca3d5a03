"""Record what Lava's bit-accurate simulator does on a few programs, for the tests that run where
Lava cannot be installed (Python 3.12 and 3.13, numpy 2: tests/simulate/test_golden.py).

    python tools/make_golden.py [--out tests/golden]        (Python 3.11 with the lava extra)

For each network: its NIR file, inputs x and what Lava produced: the readout (T, B, K) int64
and every layer's spikes summed over steps, (B, *shape) int64.  The networks: the digits LIF
and deployable STAA nets (trained briefly here, seed 0: conv layers with odd mixed weights,
pooling, the readout), and a graph written with the nir API alone (Affine, LIF, dt 1e-3) run on
graded user inputs.  Their figures are Lava's, never the simulator's.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nir
import numpy as np
import torch

from spikefold.common.cli import ArgumentParser, command
from spikefold.compile.lower_checkpoint import LowerOptions, lower_checkpoint
from spikefold.compile.nir_io import read_nir, save_nir
from spikefold.compile.nir_peers import PEERS
from spikefold.deploy.lava_graph import run_lava
from spikefold.deploy.quantize import quantize
from spikefold.deploy.samples import fit_inputs, test_samples
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.config import ModelConfig, TrainConfig
from spikefold.models.train import train

SAMPLES = 16


def digits_net(neuron: str, where: Path, out: Path) -> tuple:
    """(graph, x) of a digits net trained 3 epochs (STAA: then 1 static), its NIR file at `out`."""
    ckpt = where / f"{neuron}.pt"
    train(ModelConfig(arch="digitnet", neuron=neuron, timesteps=4),
          TrainConfig(dataset="digits", epochs=3, static_epochs=1, seed=0), str(ckpt), quiet=True)
    model, ck = model_from_checkpoint(ckpt)
    g, _ = lower_checkpoint(model, ck, LowerOptions(eval_samples=0))
    save_nir(g, out, PEERS["portable"])
    graph = read_nir(out)
    x, _ = test_samples(graph, samples=SAMPLES).batch(range(SAMPLES))
    return graph, x


def nir_api_net(out: Path) -> tuple:
    """(graph, x): README's graph built with the nir API alone, run at dt 1e-3 on graded inputs."""
    rng = np.random.default_rng(0)
    lif = lambda n: nir.LIF(tau=np.full(n, 5e-3), r=np.ones(n), v_leak=np.zeros(n),
                            v_threshold=np.ones(n), v_reset=np.zeros(n))
    nodes = {"in": nir.Input(input_type={"input": np.array([6])}),
             "fc0": nir.Affine(weight=rng.normal(0, 1.5, (8, 6)), bias=np.zeros(8)), "n0": lif(8),
             "fc1": nir.Affine(weight=rng.normal(0, 1, (3, 8)), bias=np.zeros(3)),
             "out": nir.Output(output_type={"output": np.array([3])})}
    nir.write(str(out), nir.NIRGraph(nodes=nodes, edges=[("in", "fc0"), ("fc0", "n0"), ("n0", "fc1"),
                                                          ("fc1", "out")]))
    x = torch.as_tensor(rng.uniform(0, 4, (SAMPLES, 10, 6)).astype(np.float32))
    graph, samples = fit_inputs(read_nir(out, dt=1e-3), x, None, str(out))
    return graph, samples.batch(range(SAMPLES))[0]


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "tests" / "golden"))
    out = Path(p.parse_args(argv).out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        nets = {"digits_lif": digits_net("lif", Path(tmp), out / "digits_lif.nir"),
                "digits_staa": digits_net("staa", Path(tmp), out / "digits_staa.nir"),
                "nir_api": nir_api_net(out / "nir_api.nir")}
    for name, (graph, x) in nets.items():
        program = quantize(graph)
        readout, spikes = run_lava(program, x, record_spikes=True)
        np.savez_compressed(out / f"{name}.npz", x=x.numpy(), readout=readout.numpy().astype(np.int64),
                            dt=np.float64(graph.meta.get("nir", {}).get("dt") or 0.0),
                            **{f"spikes/{k}": v.sum(0).numpy().astype(np.int64) for k, v in spikes.items()})
        print(f"{name}: {x.shape[0]} samples, readout {tuple(readout.shape)}, "
              f"{sum(int(v.sum()) for v in spikes.values())} spikes (Lava)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
