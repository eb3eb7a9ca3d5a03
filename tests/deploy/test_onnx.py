"""deploy/to_onnx.py: onnxruntime reproduces the PyTorch logits for every neuron type."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed: the optional `onnx` extra")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the optional `onnx` extra")
import pytest
import torch

from spikefold.deploy.to_onnx import session
from spikefold.models import lif
from spikefold.models.backbones import build_model
from spikefold.models.checkpoint import FORMAT, model_from_checkpoint, save_checkpoint
from spikefold.models.config import ModelConfig

pytestmark = pytest.mark.exact   # float results compared for equal spikes: rerun on another machine's kernels (Makefile)

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
def test_onnxruntime_matches_pytorch_on_the_digits_test_split(neuron, tmp_path, lif_ckpt, staa_ckpt, digits_test,
                                                              monkeypatch):
    ckpt = checkpoint(tmp_path, neuron, lif_ckpt, staa_ckpt)
    out = tmp_path / "m.onnx"
    r = subprocess.run([sys.executable, str(ROOT / "deploy" / "to_onnx.py"), str(ckpt), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    onnx.checker.check_model(onnx.load(str(out)))
    x = digits_test[0]
    got = session(out).run(None, {"x": x.numpy()})[0]
    model, _ = model_from_checkpoint(ckpt)
    margin = torch.full((len(x),), float("inf"))    # per sample: min |v - v_th| over every neuron and step

    def spike(d, *args, fire=lif.spike, **kwargs):
        margin.copy_(torch.minimum(margin, d.detach().abs().flatten(1).amin(1)))
        return fire(d, *args, **kwargs)

    monkeypatch.setattr(lif, "spike", spike)
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == want.shape == (4, 450, 10)
    # onnxruntime sums in its own order (float32, and ONNX Runtime has no float64 Conv), so v moves
    # by ~1e-7 to 1e-6 and a spike with v that close to v_th may flip, then propagate: on an AVX2-only EPYC
    # the staa net's logits differed by 0.26 (issue 25).  A sample with some |v - v_th| < 1e-5 is a
    # tie (5-7% of the digits test split here), counted and bounded; every other sample's logits
    # must agree to 1e-4.
    differ = torch.from_numpy(np.abs(got - want).max(axis=(0, 2)) > 1e-4)
    tie = margin < 1e-5
    assert not (differ & ~tie).any(), f"samples differ far from any threshold: {differ.nonzero()[:5].ravel()}"
    assert int(tie.sum()) <= len(x) // 10, f"{int(tie.sum())} of {len(x)} samples are ties: a weak test"
    same = ~tie
    assert np.array_equal(got.mean(0).argmax(1)[same], want.mean(0).argmax(1)[same])
