"""fold_batchnorm: exact, and never mutates its input graph."""
import numpy as np
import pytest
import torch

from spikefold.compile.agreement import TIE64, outputs_agree, spike_agreement
from spikefold.compile.executor import GraphNet
from spikefold.compile.nodes import BatchNorm, Conv2d, Flatten, Input, Output
from spikefold.compile.passes import fold_batchnorm

# two float computations compared for equal spikes: in float64 (tests/conftest.py float64), and
# rerun on another machine's kernels (Makefile)
pytestmark = [pytest.mark.exact, pytest.mark.usefixtures("float64")]


def test_one_channel_by_hand(build):
    # conv 1x1 with weight 2, bias 1; BN mean 3, var 4 - eps, gamma 5, beta 6:
    # y = 5 * (2x + 1 - 3) / 2 + 6 = 5x + 1
    conv = Conv2d(np.full((1, 1, 1, 1), 2.0), np.ones(1), (1, 1), (0, 0), (1, 1, 1))
    bn = BatchNorm(np.full(1, 3.0), np.full(1, 4.0 - 1e-5), np.full(1, 5.0), np.full(1, 6.0), 1e-5,
                   (1, 1, 1))
    g = build.graph([("in", Input((1, 1, 1))), ("conv", conv), ("bn", bn), ("out", Output((1, 1, 1)))])
    folded = fold_batchnorm(g)
    assert list(folded.nodes) == ["in", "conv", "out"]
    assert np.allclose(folded.nodes["conv"].weight, 5.0) and np.allclose(folded.nodes["conv"].bias, 1.0)
    assert "bn" in g.nodes and g.nodes["conv"].weight[0, 0, 0, 0] == 2.0  # input untouched


def test_random_conv_bn_lif_chain_is_unchanged(build):
    rng = np.random.default_rng(1)
    c = 6
    bn = BatchNorm(rng.normal(0, 1, c), rng.uniform(0.2, 3, c), rng.normal(1, 0.5, c),
                   rng.normal(0, 0.5, c), 1e-5, (c, 5, 5))
    g = build.graph([("in", Input((3, 5, 5))), ("conv", build.conv(3, c, (c, 5, 5))), ("bn", bn),
                     ("lif", build.lif((c, 5, 5), 0.5, 0.5)), ("flat", Flatten((c * 25,))),
                     ("fc", build.linear(c * 25, 4)), ("out", Output((4,)))])
    x = torch.rand(16, 3, 5, 5) * 3
    with torch.no_grad():
        net, folded = GraphNet(g), GraphNet(fold_batchnorm(g))
        a, b = net(x, record=True), folded(x, record=True)
    agree = spike_agreement([("lif", *net.record["lif"][:1], folded.record["lif"][0], net.record["lif"][1], 1.0)], TIE64)
    assert agree.holds() and outputs_agree(a, b, agree, atol=1e-9), str(agree)   # a difference: a tie at v_th
