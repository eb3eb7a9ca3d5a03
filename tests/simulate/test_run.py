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


def test_batches_are_cut_to_fit_the_work_limit(lif_ckpt, digits_test):
    """Issue 42: the default batch need not fit --max-work-mb; batches are cut to fit it, with the
    same predictions and counts; only a single sample over the limit is refused."""
    import pytest
    from spikefold.common.cli import InputError
    from spikefold.deploy.quantize import quantize
    from spikefold.deploy.samples import Samples
    from spikefold.simulate.engine import Simulator
    from spikefold.simulate.run import simulate
    import torch
    model, _ = model_from_checkpoint(lif_ckpt)
    graph = lower(model, (1, 8, 8), "none")
    program = quantize(graph)
    x, y = digits_test[0][:40], digits_test[1][:40]
    samples = lambda: Samples(x=x, y=y, name="digits")
    one = Simulator(program).batch_bytes(1) / (1 << 20)
    whole = simulate(graph, program, samples(), batch_size=40)
    cut = simulate(graph, program, samples(), batch_size=40, max_work_mb=7.5 * one)   # batches of 7
    assert Simulator(program).fit_batch(40, 7.5 * one) == 7
    assert torch.equal(whole["chip"], cut["chip"]) and whole["counts"] == cut["counts"]
    with pytest.raises(InputError, match="lower the steps per sample"):
        simulate(graph, program, samples(), batch_size=40, max_work_mb=0.5 * one)
