"""Time `compile/to_nir.py` on a paper-sized network: STAA ResNet-20 (res20m), CIFAR-100 shape, T=4.

No CIFAR files can be downloaded here, so the script writes a stand-in
CIFAR-100 directory in torchvision's pickle layout (random pixels: N train and
M test images) and a checkpoint of the untrained network; calibration
(--calib-samples) and the accuracy/agreement measurement (--eval-samples) then
run on those.  Lowering time does not depend on the weights' values, only on
the architecture and the sample counts, which are printed.

    python bench/to_nir_time.py [--arch res20m] [--calib-samples 256] [--eval-samples 64]
"""
from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from spikefold.models.backbones import build_model
from spikefold.models.checkpoint import FORMAT, save_checkpoint
from spikefold.models.config import ModelConfig
from spikefold.models.config import TrainConfig
from spikefold.version import __version__
from spikefold.common.cli import ArgumentParser, command, nonneg_int, positive_int


def write_cifar100(root: Path, n_train: int, n_test: int) -> None:
    rng = np.random.default_rng(0)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        batch = {b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"filenames": [b"x.png"] * n}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="res20m")
    p.add_argument("--neuron", default="staa")
    p.add_argument("--calib-samples", type=positive_int, default=256)
    p.add_argument("--eval-samples", type=nonneg_int, default=64)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_cifar100(d / "data", max(args.calib_samples, 1), max(args.eval_samples, 1))
        cfg = ModelConfig(arch=args.arch, neuron=args.neuron, num_classes=100, in_channels=3,
                          input_size=32, timesteps=4)
        torch.manual_seed(0)
        model = build_model(cfg)
        save_checkpoint({"format": FORMAT, "version": __version__, "model_config": cfg.to_dict(),
                         "train_config": asdict(TrainConfig(dataset="cifar100", data_root=str(d / "data"))),
                         "state_dict": model.state_dict(), "epoch": 0, "metrics": {}}, d / "ckpt.pt")
        cmd = [sys.executable, "compile/to_nir.py", str(d / "ckpt.pt"), "--quiet",
               "--calib-samples", str(args.calib_samples), "--eval-samples", str(args.eval_samples)]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode:
            print(r.stderr, file=sys.stderr)
            return r.returncode
        size = (d / "ckpt.nir").stat().st_size
    print(r.stdout.splitlines()[0])
    print(f"{args.arch} {args.neuron} 32x32 T=4, {args.calib_samples} calibration and "
          f"{args.eval_samples} evaluation samples, torch threads {torch.get_num_threads()}: "
          f"to_nir.py wall time {wall:.1f} s (process start included), NIR file {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
