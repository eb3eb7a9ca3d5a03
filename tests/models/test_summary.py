"""models/summary.py: per-block counts that add up to the model's parameter count."""

import subprocess
import sys
from pathlib import Path

from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig
from spikefold.models.summary import summarize

ROOT = Path(__file__).resolve().parents[2]


def test_blocks_add_up_and_attention_is_only_in_staa():
    for neuron in ("lif", "staa"):
        cfg = ModelConfig(arch="res20m", neuron=neuron, num_classes=100, in_channels=3, input_size=32)
        model = build_model(cfg)
        rows = summarize(model)
        assert sum(r[2] + r[3] for r in rows) == sum(p.numel() for p in model.parameters())
        attention = sum(r[3] for r in rows)
        assert (attention > 0) == (neuron == "staa")


def test_cli_prints_blocks_and_total():
    out = subprocess.run([sys.executable, str(ROOT / "models" / "summary.py"), "--arch", "res20m",
                          "--neuron", "staa", "--classes", "100", "--input", "32"],
                         capture_output=True, text=True, check=True).stdout
    assert "body.11" in out and "head" in out
    assert out.strip().splitlines()[-1].endswith("(12.93 M)")
