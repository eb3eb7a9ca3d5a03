"""simulate/report.py and simulate/ops.py: the report's figures, checked from its own counts."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deploy.program import HostLayer, NeuronLayer, Program, SynapseLayer
from simulate import report
from simulate.constants import ENERGY_PJ
from simulate.engine import Simulator
from simulate.ops import OpsAccumulator, dense_ops, effective_pairs

ROOT = Path(__file__).resolve().parents[2]


def test_dense_and_effective_ops_by_hand():
    # 1 -> 1 channel 3x3 conv, padding 1, on a 3x3 map: dense ops 9 outputs x 9 taps = 81
    w = np.ones((1, 1, 3, 3), np.int64)
    w[0, 0, 0, 0] = 0                       # one zero weight
    s = SynapseLayer("conv", "a", "b", w, 0, (1, 1), (1, 1), (1, 3, 3), (1, 3, 3))
    assert dense_ops(s) == 81
    # one spike in the centre reaches all 9 outputs, through 8 nonzero weights
    spikes = torch.zeros(1, 1, 1, 3, 3)
    spikes[0, 0, 0, 1, 1] = 1
    assert effective_pairs(s, spikes) == 8
    # a spike in the corner reaches 4 outputs (the others are padding); output (1, 1) reads it
    # through tap (0, 0), the zero weight: 3 pairs
    corner = torch.zeros(1, 1, 1, 3, 3)
    corner[0, 0, 0, 0, 0] = 1
    assert effective_pairs(s, corner) == 3


def tiny_program():
    z = np.zeros((1, 2, 2), np.int64)
    neurons = {"h": NeuronLayer((1, 2, 2), z + 4095, z, z + 1, z, z, 0, 1.0),
               "o": NeuronLayer((2,), np.full(2, 4095), np.zeros(2, np.int64), np.ones(2, np.int64),
                                np.zeros(2, np.int64), np.zeros(2, np.int64), 1, 1.0)}
    syn = {"d": SynapseLayer("dense", "h", "o", np.full((2, 4), 3), 0, (1, 1), (0, 0), (1, 2, 2), (2,)),
           "ro": SynapseLayer("dense", "o", "readout", np.eye(2, dtype=np.int64), 0, (1, 1), (0, 0), (2,), (2,))}
    host = HostLayer("conv", np.ones((1, 1, 1, 1)), (1, 1), (0, 0), (1, 2, 2), (1, 2, 2), 100.0, "h")
    return Program(host, neurons, syn, ("ro",), 1.0, np.zeros(2), 2, 2, (1, 2, 2))


def test_ops_conventions_on_a_tiny_program():
    p = tiny_program()
    x = torch.tensor([[[[1.0, 0.0], [0.0, 2.0]]]])   # two pixels drive their neurons above vth
    r = Simulator(p).run(x, record=True, mode="window")
    acc = OpsAccumulator(p)
    acc.add(x, r)
    o = acc.result()
    assert o["rates"]["h"] == 0.5                     # 2 of 4 neurons fire on each of T = 2 steps
    assert o["paper"]["host_macs"] == 4 * 2 and o["paper"]["neuron_updates"] == (4 + 2) * 2
    assert o["paper"]["acs"] == pytest.approx(8 * 0.5 * 2 + 4 * o["rates"]["o"] * 2)   # dense ops 8 and 4
    assert o["effective"]["macs"] == 2 * 2 + 12       # nonzero pixels x weights, T times, + updates
    assert o["ann"]["macs"] == 4 + 8 + 4
    assert o["chip"]["host_macs"] == 4                # once per static image
    assert o["chip"]["synaptic_events"] == r.counts["total"]["synaptic_events"]


def test_report_figures_agree_with_its_own_counts(lif_ckpt, tmp_path):
    argv = [str(lif_ckpt), "--out", str(tmp_path / "rep"), "--samples", "100", "--quiet"]
    assert report.main(argv) == 0
    r = json.loads((tmp_path / "rep" / "report.json").read_text())
    for f in ("report.md", "accuracy.png", "firing_rates.png", "energy.png"):
        assert (tmp_path / "rep" / f).stat().st_size > 500
    assert r["float_device"] in ("cpu", "cuda") and r["samples"] == 100
    assert set(r["accuracy"]) == {"float", "folded", "chip"} and all(v > 50 for v in r["accuracy"].values())
    o, e = r["operations_per_inference"], r["energy_per_inference_pj"]
    # (a) by hand from the report's own counts
    assert e["paper_45nm"] == pytest.approx(o["paper"]["macs"] * 4.6 + o["paper"]["acs"] * 0.9)
    assert e["ann_45nm"] == pytest.approx(o["ann"]["macs"] * 4.6)
    c = o["chip"]
    assert e["loihi"] == pytest.approx(c["synaptic_events"] * 23.6 + c["active_updates"] * 81 +
                                       c["inactive_updates"] * 52 + c["host_macs"] * 4.6)
    assert r["energy_constants_pj"] == ENERGY_PJ
    assert all(0 < v["chip"] < 1 and 0 < v["float"] < 1 for v in r["firing_rates"].values())
    assert "float, PyTorch on CPU" in (tmp_path / "rep" / "report.md").read_text() or r["float_device"] == "cuda"


def test_demo_runs_end_to_end_small(tmp_path):
    r = subprocess.run([sys.executable, "-m", "spikefold.demo", "--epochs", "2", "--finetune-epochs", "1",
                        "--lava-samples", "2", "--out", str(tmp_path / "demo")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[5/5] done" in r.stdout and "identical on 2/2" in r.stdout
    assert (tmp_path / "demo" / "report" / "report.json").is_file()
