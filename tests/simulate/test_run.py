"""simulate/run.py, the command: accuracy next to the float graph's, counts per sample."""
import subprocess
import sys
from pathlib import Path

from spikefold.compile.nir_io import write_nir
from spikefold.compile.pipeline import lower
from spikefold.models.checkpoint import model_from_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def test_run_prints_chip_and_float_accuracy(lif_ckpt, tmp_path):
    model, _ = model_from_checkpoint(lif_ckpt)
    write_nir(lower(model, (1, 8, 8), "none"), tmp_path / "m.nir", {"dataset": "digits"})
    r = subprocess.run([sys.executable, str(ROOT / "simulate" / "run.py"), str(tmp_path / "m.nir")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "digits, 450 samples: chip simulator" in r.stdout and "host MACs" in r.stdout
    r = subprocess.run([sys.executable, str(ROOT / "simulate" / "run.py"), str(tmp_path / "none.nir")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "none.nir" in r.stderr
