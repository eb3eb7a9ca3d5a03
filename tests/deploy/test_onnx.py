"""deploy/to_onnx.py: onnxruntime reproduces the PyTorch logits for every neuron type."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from deploy.to_onnx import session
from models.backbones import build_model
from models.checkpoint import FORMAT, model_from_checkpoint, save_checkpoint
from models.config import ModelConfig

ROOT = Path(__file__).resolve().parents[2]


def checkpoint(tmp_path, neuron, lif_ckpt, staa_ckpt):
    """The trained fixtures for lif and staa; fsta and sma initialised (their attention live)."""
    if neuron == "lif":
        return lif_ckpt
    if neuron == "staa":
        return staa_ckpt
    torch.manual_seed(0)
    cfg = ModelConfig(neuron=neuron)
    path = tmp_path / f"{neuron}.pt"
    save_checkpoint({"format": FORMAT, "version": "test", "model_config": cfg.to_dict(),
                     "train_config": {"dataset": "digits"}, "state_dict": build_model(cfg).state_dict()}, path)
    return path


@pytest.mark.parametrize("neuron", ["lif", "staa", "fsta", "sma"])
def test_onnxruntime_matches_pytorch_on_the_digits_test_split(neuron, tmp_path, lif_ckpt, staa_ckpt, digits_test):
    ckpt = checkpoint(tmp_path, neuron, lif_ckpt, staa_ckpt)
    out = tmp_path / "m.onnx"
    r = subprocess.run([sys.executable, str(ROOT / "deploy" / "to_onnx.py"), str(ckpt), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    onnx.checker.check_model(onnx.load(str(out)))
    x = digits_test[0]
    got = session(out).run(None, {"x": x.numpy()})[0]
    model, _ = model_from_checkpoint(ckpt)
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == want.shape == (4, 450, 10)
    assert np.abs(got - want).max() <= 1e-4
    assert np.array_equal(got.mean(0).argmax(1), want.mean(0).argmax(1))
