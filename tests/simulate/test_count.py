"""simulate/counters/network.py and count.py: the conventions by hand on a tiny network, Table 7 pinned."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig
from spikefold.models.layers import Classifier, ConvBNSpike, SpikingNet
from spikefold.simulate.count import run_count
from spikefold.simulate.counters.network import bernoulli_neurons, count
from spikefold.simulate.counters.paper import TABLE7

ROOT = Path(__file__).resolve().parents[2]


def counts(arch, neuron, rate=0.15):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, neuron=neuron, num_classes=100, in_channels=3,
                                    input_size=32, timesteps=4)).eval()
    hooks = bernoulli_neurons(model, rate)
    c = run_count(model, torch.rand(1, 3, 32, 32), 4)
    for h in hooks:
        h.remove()
    return c


@pytest.mark.parametrize("arch", ["res20m", "vgg13"])
def test_table7_macs_reproduced_the_way_syops_counts(arch):
    staa, lif = counts(arch, "staa"), counts(arch, "lif")
    paper = TABLE7[arch]
    # syops' MACs of the STAA network (attention convs as MACs, neuron updates as ACs) round
    # to the paper's Table 7 figure (0.06 G, 0.28 G), and its operations are within 1 %
    assert round(staa["macs"] / 1e9, 2) == paper["macs_g"]
    assert abs(staa["ops"] / 1e9 - paper["flops_g"]) / paper["flops_g"] < 0.01
    pinned = {"res20m": (0.8762, 0.06229, 12.9253, 12.7454, 0.2157),
              "vgg13": (0.9243, 0.28052, 10.8694, 10.7137, 0.2283)}[arch]
    got = (staa["ops"] / 1e9, staa["macs"] / 1e9, staa["params"] / 1e6, staa["params_without_sa"] / 1e6,
           staa["ann_macs"] / 1e9)
    assert got == pytest.approx(pinned, abs=6e-5)
    assert lif["macs"] < staa["macs"] and lif["ann_macs"] == staa["ann_macs"]   # attention adds MACs only
    # ACs scale with the assumed rate; MACs do not
    half = counts(arch, "lif", rate=0.075)
    assert half["macs"] == lif["macs"] and half["acs"] == pytest.approx(lif["acs"] / 2, rel=0.05)


def tiny(bias: bool):
    """conv 1x1 (weight 2) -> BN -> LIF on a 2x2 image, then a linear 4 -> 2 on the spikes; T = 1."""
    cfg = ModelConfig(arch="digitnet", neuron="lif", num_classes=2, in_channels=1, input_size=2, timesteps=1)
    model = SpikingNet(cfg, nn.Sequential(ConvBNSpike(cfg, 1, 1, kernel=1)), Classifier(4, 2, global_pool=False))
    with torch.no_grad():
        model.body[0][0].module[0].weight.fill_(2.0)
        model.head.fc.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]]))
        if not bias:
            model.head.fc.bias = None
    return model.eval()


def test_the_conventions_by_hand_on_a_tiny_network():
    model = tiny(bias=True)
    x = torch.tensor([[[[0.5, 0.0], [0.0, 1.0]]], [[[1.0, 1.0], [0.25, 0.0]]]])   # 2 samples
    c = count(model, [x], timesteps=1)
    rows = {r["type"]: r for r in c.rows()}
    assert list(rows) == ["Conv2d", "BatchNorm2d", "LIF", "Linear"]
    # (a) syops, per sample: conv 4 positions x 1 tap = 4 MACs (the image is not 0/1); BN 2 x 4 MACs;
    # LIF 4 input elements as ACs; Linear: numel(x) x out = 4 x 2 x 2 samples + 2 (bias ONCE per call)
    assert (rows["Conv2d"]["syops_macs"], rows["BatchNorm2d"]["syops_macs"], rows["LIF"]["syops_acs"]) == (4, 8, 4)
    with torch.no_grad():
        spikes = model.body[0][1](model.body[0][0](x.unsqueeze(0)))                 # the LIF's output
    rate = float(spikes.mean())
    assert rows["Linear"]["spike_input"]
    assert rows["Linear"]["syops_acs"] == pytest.approx((4 * 2 * 2 + 2) * rate / 2)
    # (b) NeuroBench: nonzero pixels x nonzero weights (the image: 2 + 3 nonzero pixels over 2 samples)
    assert rows["Conv2d"]["nb_macs"] == pytest.approx(5 / 2)
    s = spikes[0].flatten(1)                                                          # (B, 4)
    pairs = float((s @ (model.head.fc.weight != 0).float().T).sum())
    assert rows["Linear"]["nb_acs"] == pytest.approx(pairs / 2) and rows["Linear"]["nb_macs"] == 0
    assert rows["Linear"]["nb_dense"] == 8
    # (d) ANN: the conv's 4 MACs and the linear's 8, no biases, no BN, no neuron
    assert c.totals()["ann_macs"] == 4 + 8


def test_syops_counts_a_linear_bias_once_per_call_not_per_sample():
    x = torch.rand(3, 1, 2, 2)
    with_bias = {r["type"]: r for r in count(tiny(True), [x], 1).rows()}["Linear"]
    without = {r["type"]: r for r in count(tiny(False), [x], 1).rows()}["Linear"]
    assert with_bias["syops_ops"] - without["syops_ops"] == pytest.approx(2 / 3)


def test_count_command_prints_the_paper_beside_ours():
    r = subprocess.run([sys.executable, str(ROOT / "simulate" / "count.py"), "--arch", "res20m",
                        "--neuron", "staa", "--classes", "100", "--input", "32", "--timesteps", "4"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "paper Table 7" in r.stdout and "12.690" in r.stdout and "0.0623" in r.stdout
