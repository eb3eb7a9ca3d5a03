"""Export a checkpoint's float network to ONNX, unrolled over its T timesteps.

    python deploy/to_onnx.py ckpt.pt [-o model.onnx]

The graph is static over time (T copies of every layer's step, traced by PyTorch's
TorchScript exporter, opset 17) with a dynamic batch: input "x" is (B, C, H, W)
images (or (B, T, C, H, W) frames for event datasets), output "logits" is (T, B, K);
the prediction is the argmax of their mean over T.  The file is checked with
onnx.checker and run once in onnxruntime against PyTorch before it is kept.
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from spikefold.common.atomic import atomic_write
from spikefold.models.checkpoint import CheckpointError, model_from_checkpoint
from spikefold.common import validate
from spikefold.common.cli import ArgumentParser, InputError, command, fail
from spikefold.models.data import DATASETS

OPSET = 17


def example_input(cfg, events: bool, batch: int = 2) -> torch.Tensor:
    shape = (cfg.in_channels, cfg.input_size, cfg.input_size)
    g = torch.Generator().manual_seed(0)
    return torch.rand(batch, cfg.timesteps, *shape, generator=g) if events else torch.rand(batch, *shape, generator=g)


def export(model, x: torch.Tensor, path) -> None:
    with warnings.catch_warnings():   # the tracer notes that T is fixed: that is the point
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {1: "batch"}})


ONNX_MISSING = "onnx and onnxruntime are not installed: the optional `onnx` extra (pip install '.[onnx]')"


def session(path):
    """An onnxruntime CPU session on the file (InputError naming the extra without onnxruntime)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(ONNX_MISSING) from None
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("-o", "--output", default=None, help="ONNX file (default: beside the checkpoint)")
    args = p.parse_args(argv)
    out = validate.output_path(args.output, "-o", Path(args.checkpoint).with_suffix(".onnx"))
    validate.outputs([out], [args.checkpoint])
    try:
        import onnx
    except ImportError:
        fail(ONNX_MISSING)
    try:
        model, ckpt = model_from_checkpoint(args.checkpoint)
    except CheckpointError as e:
        fail(str(e))
    dataset = ckpt.get("train_config", {}).get("dataset", "digits")
    events = DATASETS[dataset].events if dataset in DATASETS else False
    x = example_input(model.cfg, events)
    diff = {}

    def write(tmp: Path) -> None:
        export(model, x, tmp)
        onnx.checker.check_model(onnx.load(str(tmp)))
        got = session(tmp).run(None, {"x": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        diff["max"] = float(np.abs(got - want).max())

    atomic_write(out, write)
    print(f"wrote {out}: {model.cfg.arch} {model.cfg.neuron}, T={model.cfg.timesteps} unrolled, opset {OPSET}, "
          f"input x {'(B, T, C, H, W)' if events else '(B, C, H, W)'}, output logits (T, B, "
          f"{model.cfg.num_classes}); onnxruntime vs PyTorch max |diff| {diff['max']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
