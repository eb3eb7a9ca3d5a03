"""fold_sma's pieces: the dense matrix of two convs with zero padding between them, the limits it
refuses at, and the pass leaving its input graph alone (its exactness against the model, attention
pinned, is tests/compile/test_pipeline.py::test_sma_fold_is_exact_when_its_attention_does_not_depend_on_the_input)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spikefold.compile.calibrate import MixStats
from spikefold.compile.executor import GraphNet
from spikefold.compile.nodes import SMA, Input, LIF, Output
from spikefold.compile.passes.fold_sma import apply_convs, conv_matrix, fold_sma

pytestmark = pytest.mark.exact   # float results compared for equal spikes: rerun on another machine's kernels (Makefile)


def test_conv_matrix_is_the_two_convs_and_no_single_conv_is():
    """M x = conv_k(conv(x)) with zero padding of conv's output; the one conv with the composed
    kernel and padding 1 + 2 agrees in the interior only (why SMA's branches need dense synapses)."""
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(3, 2, 3, 3)), rng.normal(size=(3, 3, 5, 5))
    convs = [(w1, (1, 1), (1, 1)), (w2, (1, 1), (2, 2))]
    x = rng.normal(size=(4, 2, 7, 7))
    m = conv_matrix(convs, (2, 7, 7))
    assert m.shape == (3 * 49, 2 * 49)
    want = apply_convs(x, convs).reshape(4, -1)
    assert np.allclose(x.reshape(4, -1) @ m.T, want)
    assert np.allclose(want.reshape(4, 3, 7, 7),
                       F.conv2d(F.conv2d(torch.from_numpy(x), torch.from_numpy(w1), padding=1),
                                torch.from_numpy(w2), padding=2).numpy())
    # one conv with the composed 7x7 kernel: conv_k(conv(x)) computed as if conv's output went on
    # past the border
    single = apply_convs(x, [(w1, (1, 1), (3, 3)), (w2, (1, 1), (0, 0))]).reshape(4, 3, 7, 7)
    full = want.reshape(4, 3, 7, 7)
    assert np.allclose(single[..., 3:4, 3:4], full[..., 3:4, 3:4])   # far enough from every border
    assert not np.allclose(single[..., 0, :], full[..., 0, :])


def sma_graph(c_in=2, c=3, side=4, branches=(1, 3)):
    rng = np.random.default_rng(1)
    shape = (c, side, side)
    node = SMA(rng.normal(size=(c, c_in, 3, 3)), rng.normal(size=c), (1, 1), (1, 1),
               tuple(rng.normal(size=(c, c, k, k)) for k in branches), rng.uniform(0.5, 2, (len(branches), c)),
               rng.normal(size=(len(branches), c)), np.full((len(branches), c), 0.5),
               np.full((len(branches), c), 0.5), np.ones(len(branches)), rng.uniform(0.5, 2, c),
               rng.normal(size=c), (c_in, side, side), shape, "body.1")
    from spikefold.compile.graph import Graph
    nodes = {"input": Input((c_in, side, side)), "sma": node,
             "lif": LIF(np.full(c, 0.5), np.full(c, 0.5), 1.0, shape, "body.1.lif"), "output": Output(shape)}
    stats = {"body.1": MixStats(rng.uniform(0, 0.3, (4, len(branches), c)), np.zeros((len(branches), c)), 8)}
    return Graph.build(nodes, [("input", "sma"), ("sma", "lif"), ("lif", "output")], {"timesteps": 4}), stats


def test_fold_sma_builds_branches_and_mix_and_leaves_its_input_alone():
    g, stats = sma_graph()
    with pytest.raises(ValueError, match=r"^node sma: attention is not folded"):
        GraphNet(g)
    f = fold_sma(g, stats)
    assert isinstance(g.nodes["sma"], SMA) and g.nodes["lif"].shape == (3, 4, 4)     # input untouched
    assert list(f.nodes) == ["input", "sma_flatten", "sma_branch0", "sma_branch0_lif", "sma_mix0",
                             "sma_branch1", "sma_branch1_lif", "sma_mix1", "lif", "output"]
    assert f.nodes["lif"].shape == (48,) and f.nodes["lif"].leak.shape == (48,)
    a = stats["body.1"].mean_t.mean(0)
    mix1 = f.nodes["sma_mix1"]
    assert np.allclose(np.diag(mix1.weight).reshape(3, 16), (g.nodes["sma"].bn_scale * a[1])[:, None])
    assert np.count_nonzero(mix1.weight - np.diag(np.diag(mix1.weight))) == 0 and not mix1.bias.any()
    assert np.allclose(f.nodes["sma_mix0"].bias.reshape(3, 16), g.nodes["sma"].bn_shift[:, None])
    assert fold_sma(f, stats).nodes.keys() == f.nodes.keys()                    # a second run: nothing to do
    (note,) = f.meta["folds"]
    assert note["dense_weights"] == 2 * (48 * 32 + 48 * 48)


def test_fold_sma_refuses_matrices_over_its_limit_in_one_line():
    g, stats = sma_graph()
    with pytest.raises(ValueError, match=r"^node sma \(body\.1\): SMA's exact fold needs dense 48 x 48 synapses "
                                         r"\(2,304 weights, over the limit of 2,000\)[^\n]*$"):
        fold_sma(g, stats, max_weights=2000)


def test_fold_sma_flattens_what_follows_and_refuses_a_shortcut_across_the_unit(build):
    """Downstream convs become their dense matrices; a neuron fed from both sides of the unit
    (a residual join) would need flattened and unflattened inputs at once: refused."""
    from spikefold.compile.graph import Graph
    g, stats = sma_graph()
    nodes = dict(g.nodes)
    out = nodes.pop("output")
    nodes.update({"conv_a": build.conv(3, 2, (2, 2, 2), stride=2), "skip": build.conv(2, 2, (2, 2, 2), stride=2),
                  "lif2": build.lif((2, 2, 2)), "output": out})
    edges = [("input", "sma"), ("sma", "lif"), ("lif", "conv_a"), ("conv_a", "lif2"), ("lif2", "output")]
    f = fold_sma(Graph.build(nodes, edges, {"timesteps": 4}), stats)
    conv = g.nodes["sma"]
    x = np.random.default_rng(2).normal(size=(3, 48))
    assert np.allclose(x @ f.nodes["conv_a"].weight.T + f.nodes["conv_a"].bias,
                       apply_convs(x.reshape(3, 3, 4, 4), [(nodes["conv_a"].weight, (2, 2), (1, 1))]).reshape(3, -1)
                       + np.repeat(nodes["conv_a"].bias, 4))
    assert f.nodes["lif2"].shape == (8,) and conv is g.nodes["sma"]
    with pytest.raises(ValueError, match=r"^node lif2: reads both the flattened layers after an SMA unit and others"):
        fold_sma(Graph.build(nodes, edges + [("input", "skip"), ("skip", "lif2")], {"timesteps": 4}), stats)
