"""Sharded runs (torchrun, gloo on CPU) write what one process writes; batches stream; every tensor
the simulator makes names its device."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from spikefold.compile.nir_io import write_nir
from spikefold.compile.pipeline import lower
from spikefold.deploy.quantize import quantize
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.simulate.engine import Simulator

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def command(*args, ranks: int = 1) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    head = TORCHRUN if ranks == 2 else [sys.executable]
    r = subprocess.run([*head, *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_two_gloo_ranks_write_the_report_of_one_process(staa_ckpt, tmp_path):
    """Batches of 40 over 150 samples (4 batches, the last partial) shared by 2 ranks: report.json
    is the single process's, field for field, but for the output directory named in the command
    and the wall time."""
    args = ["simulate/report.py", staa_ckpt, "--samples", "150", "--batch-size", "40", "--quiet", "--device", "cpu"]
    command(*args, "--out", tmp_path / "one")
    command(*args, "--out", tmp_path / "two", ranks=2)
    one, two = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two"))
    assert set(one) == set(two)
    for k in one:
        if k == "command":
            assert one[k].replace("one", "two") == two[k]
        elif k != "seconds":
            assert one[k] == two[k], k
    assert one["samples"] == 150 and one["operations_per_inference"]["syops"]["acs"] > 0


def test_run_over_two_ranks_and_in_any_batch_size_prints_the_same(lif_ckpt, tmp_path):
    model, _ = model_from_checkpoint(lif_ckpt)
    write_nir(lower(model, (1, 8, 8), "none"), tmp_path / "m.nir", {"dataset": "digits"})
    run = ["simulate/run.py", tmp_path / "m.nir", "--samples", "300", "--device", "cpu"]
    outs = [command(*run, "--batch-size", "300").stdout, command(*run, "--batch-size", "7").stdout,
            command(*run, "--batch-size", "64", ranks=2).stdout.replace(" (2 processes)", "")]
    assert outs[0] == outs[1] == outs[2] and "300 samples: chip simulator" in outs[0]


class FactoryWatch(TorchFunctionMode):
    """Records every tensor made from scratch in spikefold's own code without naming a device:
    on a GPU such a tensor would land on the CPU and the run would fail or copy silently."""
    FACTORIES = {torch.zeros, torch.ones, torch.empty, torch.full, torch.tensor, torch.as_tensor,
                 torch.arange, torch.eye, torch.empty_strided, torch.rand, torch.randn, torch.randint}

    def __init__(self):
        super().__init__()
        self.unnamed = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.FACTORIES and "device" not in kwargs:
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(str(ROOT)) and "/tests/" not in caller:
                self.unnamed.append(f"{Path(caller).relative_to(ROOT)}:{sys._getframe(1).f_lineno} {func.__name__}")
        return func(*args, **kwargs)


def test_the_simulator_names_the_device_of_every_tensor_it_makes(lif_ckpt, staa_ckpt, digits_test):
    """The CPU-side check that the code path is device-agnostic (no GPU in CI): building the
    Simulator and running it in both modes, on a LIF and a folded STAA network, makes no tensor
    without saying where."""
    x = digits_test[0][:16]
    for ckpt in (lif_ckpt, staa_ckpt):
        model, _ = model_from_checkpoint(ckpt)
        program = quantize(lower(model, (1, 8, 8), "calibrated", [x]))
        with FactoryWatch() as watch:
            sim = Simulator(program, "cpu")
            full, window = sim.run(x, record=True), sim.run(x, mode="window")
        assert watch.unnamed == [], watch.unnamed
        assert torch.equal(full.readout, Simulator(program).run(x).readout)
        assert np.isfinite(window.logits.numpy()).all()


def test_factory_watch_sees_an_unnamed_device():
    """The watch itself: a factory call in spikefold's code without a device is reported (code
    compiled under a file name in simulate/; none is written), one in the tests is not."""
    ns = {}
    src = "import torch\ndef make():\n    return torch.zeros(2), torch.zeros(2, device='cpu')\n"
    exec(compile(src, str(ROOT / "simulate" / "probe.py"), "exec"), ns)
    with FactoryWatch() as watch:
        torch.zeros(3)
        ns["make"]()
    assert watch.unnamed == ["simulate/probe.py:3 zeros"]
