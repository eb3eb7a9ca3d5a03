"""fold_avgpool (with materialize_shortcuts for pooled identity shortcuts): exact."""
import numpy as np
import pytest
import torch

from spikefold.compile.executor import GraphNet
from spikefold.compile.nodes import AvgPool2d, Conv2d, Flatten, Input, Output
from spikefold.compile.passes import fold_avgpool, materialize_shortcuts

# two float computations compared for equal spikes: in float64 (tests/conftest.py float64), and
# rerun on another machine's kernels (Makefile)
pytestmark = [pytest.mark.exact, pytest.mark.usefixtures("float64")]


def run(graph, x):
    with torch.no_grad():
        return GraphNet(graph)(x)


def test_expanded_kernel_by_hand(build):
    # a 2x2 pool then a 1x1 conv of weight 4 is a 2x2 conv, stride 2, of weight 1
    conv = Conv2d(np.full((1, 1, 1, 1), 4.0), np.zeros(1), (1, 1), (0, 0), (1, 2, 2))
    g = build.graph([("in", Input((1, 4, 4))), ("pool", AvgPool2d((2, 2), (1, 2, 2))),
                     ("conv", conv), ("out", Output((1, 2, 2)))])
    f = fold_avgpool(g)
    assert "pool" not in f.nodes and "pool" in g.nodes
    c = f.nodes["conv"]
    assert c.weight.shape == (1, 1, 2, 2) and np.all(c.weight == 1.0) and c.stride == (2, 2)


@pytest.mark.parametrize("k,stride,pad,kernel", [(2, 1, 1, 3), (2, 2, 1, 3), (4, 1, 0, 1), (2, 1, 0, 1)])
def test_pool_then_conv_is_one_conv(build, k, stride, pad, kernel):
    side = 8
    small = (side // k + 2 * pad - kernel) // stride + 1
    g = build.graph([("in", Input((3, side, side))),
                     ("lif0", build.lif((3, side, side), 0.5, 1.0, 0.5)),
                     ("pool", AvgPool2d((k, k), (3, side // k, side // k))),
                     ("conv", build.conv(3, 5, (5, small, small), kernel, stride, pad)),
                     ("out", Output((5, small, small)))])
    # lif0 turns the input into spikes: the pool sees 0/1 values, as on a chip
    x = torch.rand(8, 3, side, side) * 2
    a, b = run(g, x), run(fold_avgpool(g), x)
    assert torch.allclose(a, b, atol=1e-9)


def test_pool_then_flatten_linear_and_global_pool(build):
    for k in [(2, 2), (4, 4)]:
        small = (6, 4 // k[0], 4 // k[1])
        f = int(np.prod(small))
        g = build.graph([("in", Input((6, 4, 4))), ("pool", AvgPool2d(k, small)),
                         ("flat", Flatten((f,))), ("fc", build.linear(f, 3)), ("out", Output((3,)))])
        x = torch.rand(5, 6, 4, 4)
        folded = fold_avgpool(g)
        assert folded.nodes["flat"].shape == (96,)
        assert torch.allclose(run(g, x), run(folded, x), atol=1e-9)


def test_pooled_identity_shortcut_becomes_a_strided_conv(build):
    # res20m's first block: pooled spikes feed conv1 and, through the identity shortcut, the
    # block's neuron directly; after the passes both are synaptic layers on the spikes.
    c = 4
    named = [("in", Input((c, 8, 8))), ("lif0", build.lif((c, 8, 8), 0.5, 1.0, 0.5)),
             ("pool", AvgPool2d((2, 2), (c, 4, 4))), ("conv1", build.conv(c, c, (c, 4, 4))),
             ("lif1", build.lif((c, 4, 4))), ("conv2", build.conv(c, c, (c, 4, 4))),
             ("lif2", build.lif((c, 4, 4))), ("out", Output((c, 4, 4)))]
    edges = [("in", "lif0"), ("lif0", "pool"), ("pool", "conv1"), ("conv1", "lif1"),
             ("lif1", "conv2"), ("conv2", "lif2"), ("pool", "lif2"), ("lif2", "out")]
    g = build.graph(named, edges)
    f = fold_avgpool(materialize_shortcuts(g))
    assert "pool" not in f.nodes and "lif2_identity" in f.nodes
    ident = f.nodes["lif2_identity"]
    assert isinstance(ident, Conv2d) and ident.stride == (2, 2) and ident.weight.shape == (c, c, 2, 2)
    assert sorted(f.preds("lif2")) == ["conv2", "lif2_identity"]
    x = torch.rand(6, c, 8, 8) * 2
    assert torch.allclose(run(g, x), run(f, x), atol=1e-9)


def test_pool_into_anything_else_is_refused(build):
    g = build.graph([("in", Input((2, 4, 4))), ("pool", AvgPool2d((2, 2), (2, 2, 2))),
                     ("out", Output((2, 2, 2)))])
    with pytest.raises(ValueError, match="pool.*Output"):
        fold_avgpool(g)
