"""deploy/to_lava.py, the command; and a residual block with a relay-delayed shortcut on Lava."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import pytest
from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

from spikefold.compile.nir_io import write_nir
from spikefold.compile.pipeline import lower
from spikefold.deploy.lava_graph import run_lava
from spikefold.deploy.quantize import quantize
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.simulate.engine import Simulator

ROOT = Path(__file__).resolve().parents[2]


def test_to_lava_runs_samples_and_checks_the_simulator(lif_ckpt, tmp_path):
    model, _ = model_from_checkpoint(lif_ckpt)
    write_nir(lower(model, (1, 8, 8), "none"), tmp_path / "m.nir", {"dataset": "digits"})
    r = subprocess.run([sys.executable, str(ROOT / "deploy" / "to_lava.py"), str(tmp_path / "m.nir"),
                        "--samples", "3"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("sample ") == 3 and "readout identical on 3/3" in r.stdout


def test_to_lava_streams_samples_back_to_back(lif_ckpt, tmp_path):
    model, _ = model_from_checkpoint(lif_ckpt)
    write_nir(lower(model, (1, 8, 8), "none"), tmp_path / "m.nir", {"dataset": "digits"})
    r = subprocess.run([sys.executable, str(ROOT / "deploy" / "to_lava.py"), str(tmp_path / "m.nir"),
                        "--samples", "5", "--stream", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "streamed back to back, self-resetting" in r.stdout and "readout identical on 5/5" in r.stdout
    assert "streamed readout equal to the one-at-a-time run's on 5/5 samples" in r.stdout


def test_to_lava_bad_file_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "x.nir"
    bad.write_text("no")
    r = subprocess.run([sys.executable, str(ROOT / "deploy" / "to_lava.py"), str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "x.nir" in r.stderr


def test_residual_block_with_relay_matches_lava(build):
    program = quantize(build.residual(np.random.default_rng(3)))
    assert [n for n, l in program.neurons.items() if l.relay] == ["short_relay1"]
    x = torch.rand(3, 1, 4, 4) * 3
    sim = Simulator(program).run(x, record=True)
    ro, spikes = run_lava(program, x, record_spikes=True)
    for name, s in spikes.items():
        assert torch.equal(s.bool(), sim.spikes[name]), name
    assert torch.equal(ro, sim.readout)
    assert all(sim.spikes[n].any() for n in ("l0", "l1", "l2", "short_relay1"))
