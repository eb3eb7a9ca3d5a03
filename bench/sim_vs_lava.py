"""Speed of the fast chip simulator against Lava's bit-accurate simulator and the float network.

    python bench/sim_vs_lava.py [--checkpoint ckpt.pt] [--lava-samples 20]

1. The same `--lava-samples` digits test samples run through Lava (Loihi2SimCfg
   fixed_pt, one compiled process graph reset between samples) and through the fast
   simulator in full mode (every step of the chip run); their readouts must be
   identical (the script fails otherwise; tests/deploy/test_lava_digits.py compares
   every spike).  Also in window mode (each layer only for the T steps its data
   passes, which gives the same readout).  Samples per
   second of each, and their ratio.
2. The whole digits test split through the fast simulator in window mode (what
   simulate/report.py uses) and through the float PyTorch forward pass of the
   checkpoint's network, best of 5 runs each, and their ratio.
Without --checkpoint a LIF digitnet is trained for 20 epochs first (about 15 s).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

from spikefold.compile.pipeline import lower
from spikefold.deploy.lava_graph import run_lava
from spikefold.deploy.quantize import quantize
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.config import ModelConfig
from spikefold.models.data import load_dataset
from spikefold.models.config import TrainConfig
from spikefold.models.train import train
from sim_speed import best_of          # bench/ is on a bench script's path
from spikefold.simulate.engine import Simulator
from spikefold.common.cli import ArgumentParser, command, positive_int


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--lava-samples", type=positive_int, default=20)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        ckpt = args.checkpoint
        if ckpt is None:
            ckpt = str(Path(d) / "lif.pt")
            train(ModelConfig(neuron="lif"), TrainConfig(epochs=20), ckpt, quiet=True)
        model, _ = model_from_checkpoint(ckpt)
    cfg = model.cfg
    ds = load_dataset("digits", None, False, cfg.timesteps, cfg.input_size)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    calib = [torch.stack([load_dataset("digits", None, True, cfg.timesteps)[i][0] for i in range(128)])]
    program = quantize(lower(model, (cfg.in_channels, cfg.input_size, cfg.input_size), "calibrated", calib))
    sim = Simulator(program)

    n = args.lava_samples
    t0 = time.perf_counter()
    lava_ro, _ = run_lava(program, x[:n])
    t_lava = time.perf_counter() - t0
    sim.run(x[:n])                                        # warm-up
    t_sim_n = best_of(lambda: sim.run(x[:n], mode="full"))
    same = torch.equal(lava_ro, sim.run(x[:n], mode="full").readout)
    print(f"{cfg.arch} {cfg.neuron} T={cfg.timesteps}, {n} digits test samples, chip run of "
          f"{program.steps} steps: Lava and the fast simulator give identical readouts: {same}")
    print(f"  Lava fixed_pt:          {n / t_lava:10.2f} samples/s ({t_lava:.2f} s, build and compile included)")
    t_win_n = best_of(lambda: sim.run(x[:n], mode="window"))
    same = same and torch.equal(lava_ro, sim.run(x[:n], mode="window").readout)
    print(f"  fast simulator, full:   {n / t_sim_n:10.1f} samples/s ({t_sim_n * 1e3:.2f} ms), "
          f"{t_lava / t_sim_n:,.0f}x Lava")
    print(f"  fast simulator, window: {n / t_win_n:10.1f} samples/s ({t_win_n * 1e3:.2f} ms), "
          f"{t_lava / t_win_n:,.0f}x Lava (same readout: {same})")

    with torch.no_grad():
        model(x)
        t_float = best_of(lambda: model(x))
    sim.run(x, mode="window")
    t_sim = best_of(lambda: sim.run(x, mode="window"))
    print(f"whole test split ({len(x)} samples), best of 5, torch threads {torch.get_num_threads()}:")
    print(f"  float PyTorch forward:  {len(x) / t_float:10.1f} samples/s ({t_float * 1e3:.1f} ms)")
    print(f"  fast simulator (window):{len(x) / t_sim:10.1f} samples/s ({t_sim * 1e3:.1f} ms)")
    print(f"  fast simulator is {t_sim / t_float:.2f}x the float forward's time")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
