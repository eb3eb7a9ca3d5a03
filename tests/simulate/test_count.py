"""simulate/count.py: the paper's Table 7 conventions, pinned, and the counting rules by hand."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from models.backbones import build_model
from models.config import ModelConfig
from simulate.count import bernoulli_neurons, run_count
from simulate.paper import TABLE7

ROOT = Path(__file__).resolve().parents[2]


def counts(arch, neuron, rate=0.15):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, neuron=neuron, num_classes=100, in_channels=3,
                                    input_size=32, timesteps=4)).eval()
    hooks = bernoulli_neurons(model, rate)
    c = run_count(model, torch.rand(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    return c


@pytest.mark.parametrize("arch", ["res20m", "vgg13"])
def test_table7_operations_macs_and_params(arch):
    base, staa = counts(arch, "lif"), counts(arch, "staa")
    paper = TABLE7[arch]
    # total operations of the network without attention: within 3 % of the paper's FLOPs
    assert abs(base["ops"] / 1e9 - paper["flops_g"]) / paper["flops_g"] < 0.03
    # pinned figures (G, M): base MACs, MACs with attention counted as MACs, parameters
    pinned = {"res20m": (0.8672, 0.0553, 0.0718, 12.9253, 12.7454),
              "vgg13": (0.9168, 0.2745, 0.2880, 10.8694, 10.7137)}[arch]
    got = (base["ops"] / 1e9, base["macs"] / 1e9, staa["macs_with_attention"] / 1e9,
           staa["params"] / 1e6, staa["params_without_sa"] / 1e6)
    assert got == pytest.approx(pinned, abs=6e-5)
    assert staa["macs"] == base["macs"]          # STAA's own neuron ops sit where LIF's do
    # ACs scale with the assumed rate; MACs do not
    half = counts(arch, "lif", rate=0.075)
    assert half["macs"] == base["macs"] and half["acs"] == pytest.approx(base["acs"] / 2, rel=0.05)


def test_counting_rules_on_a_tiny_network():
    """conv on the image: MACs; BN of its output: MACs (2 per element); the neuron: ops on a
    non-spike input (MACs); the linear layer on spikes: ACs = ops x rate."""
    from models.layers import Classifier, ConvBNSpike, SpikingNet
    cfg = ModelConfig(arch="digitnet", neuron="lif", num_classes=2, in_channels=1, input_size=2, timesteps=1)
    model = SpikingNet(cfg, nn.Sequential(ConvBNSpike(cfg, 1, 1, kernel=1)), Classifier(4, 2, global_pool=False))
    with torch.no_grad():
        model.body[0][0].module[0].weight.fill_(2.0)
    c = run_count(model.eval(), torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]]))
    kinds = [(r["type"], r["ops"], r["spike_input"]) for r in c["layers"]]
    assert kinds == [("Conv2d", 4, True), ("BatchNorm2d", 8, False), ("LIF", 4, False), ("Linear", 8, True)]
    # the image is 0/1 here, so the conv counts as spike-driven: ACs = 4 x 0.5; BN output drives LIF
    lin = c["layers"][-1]
    assert c["acs"] == pytest.approx(2 + lin["ops"] * lin["input_rate"]) and c["macs"] == 12


def test_count_command_prints_the_paper_beside_ours():
    r = subprocess.run([sys.executable, str(ROOT / "simulate" / "count.py"), "--arch", "res20m",
                        "--neuron", "staa", "--classes", "100", "--input", "32", "--timesteps", "4"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "paper Table 7" in r.stdout and "0.8672" in r.stdout and "12.690" in r.stdout
