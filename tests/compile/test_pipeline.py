"""spikefold.compile.pipeline.lower on every backbone: LIF networks exactly, STAA folds where they are exact."""
import numpy as np
import pytest
import torch
from torch import nn

from spikefold.compile.agreement import TIE64, outputs_agree, spike_agreement
from spikefold.compile.executor import GraphNet
from spikefold.compile.from_torch import UnsupportedModule
from spikefold.compile.measure import record_spikes
from spikefold.models.lif import LIF as TorchLIF
from spikefold.compile.nodes import LIF, FstaLIF, StaaLIF
from spikefold.compile.pipeline import FoldRefused, exact_prefix, lower
from spikefold.compile.passes import fold_neuron_gain
from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig
from spikefold.models.layers import TimeDistributed

pytestmark = [pytest.mark.exact, pytest.mark.usefixtures("float64")]   # float results compared for equal spikes: rerun on another machine's kernels (Makefile)

SMALL = {"digitnet": 8, "res19": 8, "res20m": 16, "vgg13": 32, "resnet18": 32, "resnet34": 32}


def model_for(arch, neuron, size=None, **kw):
    torch.manual_seed(0)
    size = size or SMALL[arch]
    cfg = ModelConfig(arch=arch, neuron=neuron, num_classes=5, in_channels=3,
                      input_size=size, timesteps=2, **kw)
    m = build_model(cfg).eval()
    with torch.no_grad():  # BN away from the identity (the fold has work to do) and every layer firing
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(1.0, 3.0)
                mod.bias.uniform_(0.0, 2.0)
    return m, (3, size, size)


def assert_same_spikes(model, graph, x):
    """Model and graph spike alike, layer by layer, tie-aware (spikefold.compile.agreement, ties
    of width TIE64 in the graph's membrane potential): no far difference, the clean samples' logits
    equal to 1e-9; returns the count of ties (each a spike within TIE64 of its threshold)."""
    logits, ref = record_spikes(model, x)
    net = GraphNet(graph)
    with torch.no_grad():
        out = net(x, record=True)
    for name, (s, _) in net.record.items():
        assert 0.01 < s.mean() < 0.95, f"{name} fires at rate {s.mean():.3f}: a weak test"
    a = spike_agreement(((name, ref[graph.nodes[name].source], s, v, graph.nodes[name].v_th)
                         for name, (s, v) in net.record.items()), eps=TIE64)
    assert a.far == 0, str(a)
    assert outputs_agree(out, logits, a, atol=1e-9)
    return a.ties


@pytest.mark.parametrize("arch", list(SMALL))
def test_every_lif_backbone_lowers_exactly(arch):
    model, shape = model_for(arch, "lif")
    graph = lower(model, shape, fold="none")
    assert set(type(n).__name__ for n in graph.nodes.values()) <= {
        "Input", "Conv2d", "Linear", "Flatten", "LIF", "Output"}
    x = torch.rand(3, *shape) * 2
    assert assert_same_spikes(model, graph, x) == 0
    # Spikes hide small errors in v (a BatchNorm folded without its eps flips none here): the
    # currents into every neuron must be equal too, the graph's being N = 1/tau times the model's
    # (fold_neuron_gain moved N into the weights).
    currents, hooks = {}, []
    for path, mod in model.named_modules():
        if isinstance(mod, TorchLIF):
            hooks.append(mod.register_forward_hook(lambda m, i, o, path=path: currents.__setitem__(path, i[0])))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    net = GraphNet(graph)
    with torch.no_grad():
        net(x, record=True)
    for name, i in net.currents.items():
        want = currents[graph.nodes[name].source].view_as(i) / model.cfg.tau
        assert torch.allclose(i, want, rtol=1e-10, atol=1e-12), name


@pytest.mark.parametrize("neuron", ["staa", "fsta"])
@pytest.mark.parametrize("arch", list(SMALL))
def test_every_attention_backbone_lowers_with_calibration(arch, neuron):
    model, shape = model_for(arch, neuron)
    with pytest.raises(FoldRefused, match="cannot be folded exactly"):
        lower(model, shape, fold="none")
    graph = lower(model, shape, "calibrated", [torch.rand(2, *shape)])
    assert not graph.of_type(StaaLIF, FstaLIF) and graph.of_type(LIF)
    with torch.no_grad():
        assert GraphNet(graph)(torch.rand(2, *shape)).shape == (2, 2, 5)


def pin_attention(model, gate=True, context=None):
    """Make SA's gate a fixed per-channel vector far from 1 (sigmoid of a bias in [-1.5, 1]: about
    0.18 to 0.73) and GC's context a fixed vector: attention that no longer depends on the input."""
    with torch.no_grad():
        for mod in model.modules():
            if hasattr(mod, "sa") and mod.sa is not None and gate:
                mod.sa.fc2.weight.zero_()
                mod.sa.fc2.bias.uniform_(-1.5, 1.0)
            for gc in ("gc_in", "gc_mem"):
                block = getattr(mod, gc, None) if hasattr(mod, "sa") else None
                if block is not None and context is not None:
                    block.query.weight.zero_()  # Wq = bias: no longer depends on the input
                    block.value.weight.normal_(0, context)
                    block.value.bias.normal_(0, context)


def test_calibrated_folds_are_exact_when_attention_does_not_depend_on_the_input():
    model, shape = model_for("res20m", "staa")
    pin_attention(model, gate=True, context=0.3)
    with torch.no_grad():
        for mod in model.modules():
            if hasattr(mod, "pos") and mod.pos is not None:
                mod.pos.copy_(torch.linspace(-0.2, 0.2, mod.pos.shape[1]).expand_as(mod.pos))
                mod.m.uniform_(0.3, 0.7)  # adaptive M, N per channel
                mod.n.uniform_(0.3, 0.9)
    graph = lower(model, shape, "calibrated", [torch.rand(4, *shape) * 2])
    assert all(n["exact"] for n in graph.meta["folds"] if n["pass"] == "fold_position_encoding")
    gates = [n["mean_gate"] for n in graph.meta["folds"] if n["pass"] == "fold_step_attention"]
    assert gates and max(gates) < 0.7       # the gate's scaling is exercised, not multiplied by 1
    assert assert_same_spikes(model, graph, torch.rand(4, *shape) * 2) < 10


def test_position_encoding_that_varies_over_t_is_refused_without_calibration():
    model, shape = model_for("digitnet", "staa", gc=False, sa=False)
    graph = lower(model, shape, "none")  # Pos starts at zero: constant in t, folds exactly
    assert assert_same_spikes(model, graph, torch.rand(4, *shape) * 2) == 0
    with torch.no_grad():
        model.body[0][1].pos[1].fill_(0.5)
    with pytest.raises(FoldRefused, match="body_0_1 .*Pos varying over t"):
        lower(model, shape, "none")
    g = lower(model, shape, "calibrated", [torch.rand(2, *shape)])
    note = next(n for n in g.meta["folds"] if n["node"] == "body_0_1")
    assert note["exact"] is False and note["max_deviation_from_mean_over_t"] == pytest.approx(0.25)


def test_neuron_gain_moves_into_weights(build):
    from spikefold.compile.nodes import Input, Output
    g = build.graph([("in", Input((2, 3, 3))), ("conv", build.conv(2, 2, (2, 3, 3))),
                     ("lif", build.lif((2, 3, 3), 0.25, 0.75)), ("out", Output((2, 3, 3)))])
    f = fold_neuron_gain(g)
    assert np.all(f.nodes["lif"].gain == 1) and np.all(g.nodes["lif"].gain == 0.75)
    assert np.allclose(f.nodes["conv"].weight, 0.75 * g.nodes["conv"].weight)
    x = torch.rand(4, 2, 3, 3) * 4
    with torch.no_grad():
        assert torch.allclose(GraphNet(g)(x), GraphNet(f)(x), atol=1e-6)


def test_unsupported_module_is_named_with_its_path():
    model, shape = model_for("digitnet", "lif")
    model.body[2] = TimeDistributed(nn.MaxPool2d(2))
    with pytest.raises(UnsupportedModule, match=r"^body\.2\.module: MaxPool2d is not supported"):
        lower(model, shape, "none")


def test_lowering_never_mutates_the_model():
    model, shape = model_for("res20m", "staa")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    exact_prefix(model, shape)
    lower(model, shape, "calibrated", [torch.rand(2, *shape)])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fsta_fold_is_exact_when_its_gain_does_not_depend_on_the_input():
    """With FSTA's time map and spatial conv at zero, w = s = sigmoid(0) for every input: the gain
    (1 + w)(p + q (1 + s)) / 2 is a constant, and as a per-neuron threshold the fold is exact."""
    model, shape = model_for("digitnet", "fsta")
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, "fsta"):
                m.fsta.time.weight.zero_()
                m.fsta.spatial.weight.zero_()
                m.fsta.p.fill_(0.9)
    graph = lower(model, shape, "calibrated", [torch.rand(4, *shape) * 2])
    g = 1.5 * (0.9 + 0.5 * 1.5) / 2
    lif = graph.nodes["body_0_1"]
    assert np.allclose(lif.v_th, 0.5 / g) and lif.v_th.shape == lif.shape
    assert assert_same_spikes(model, graph, torch.rand(4, *shape) * 2) < 10


def pin_sma(model):
    """SMA's attention with its output layers' weights at zero: softmaxes of biases, a per-branch
    constant over t (time_out) times a per-branch, per-channel vector (channel_out), far from
    uniform: attention that no longer depends on the input."""
    with torch.no_grad():
        for mod in model.modules():
            if hasattr(mod, "channel_out"):
                for f in [*mod.channel_out, *mod.time_out]:
                    f.weight.zero_()
                for i, f in enumerate(mod.time_out):
                    f.bias.fill_(0.7 * i - 1.0)
                for f in mod.channel_out:
                    f.bias.uniform_(-2.0, 2.0)


@pytest.mark.parametrize("input_size, units, unit", [(8, "auto", "body_1"), (4, "auto", "body_1"),
                                                     (8, "1,2", "body_3")])
def test_sma_fold_is_exact_when_its_attention_does_not_depend_on_the_input(input_size, units, unit):
    """Dense branch matrices conv_i o conv (zero padding between the two, which no single conv
    has), branch LIFs, the static mix into the block's LIF, the flattened layers after it: with
    the attention pinned, the folded graph spikes as the model does, branch LIFs included.  With
    SMA in units 1 and 2 the second unit reads flattened spikes through an average pool."""
    model, shape = model_for("digitnet", "sma", input_size, sma_units=units)
    pin_sma(model)
    with pytest.raises(FoldRefused, match=r"^node body_1 \(body\.1\): SMA's attention weights depend"):
        lower(model, shape, "none")
    graph = lower(model, shape, "calibrated", [torch.rand(4, *shape) * 2])
    notes = [n for n in graph.meta["folds"] if n["pass"] == "fold_sma"]
    assert [n["node"] for n in notes] == ["body_1", unit][:1 + (unit != "body_1")]
    note = notes[0]
    assert all(n["std_over_samples_and_steps"] < 1e-6 for n in notes)
    assert note["std_over_samples_and_steps"] < 1e-6 and note["max_deviation_from_mean_over_t"] < 1e-6
    assert max(note["mean_attention_per_branch"]) > 2 * min(note["mean_attention_per_branch"])
    assert [n for n in graph.nodes if "branch" in n and n.endswith("lif")] == [
        f"{u}_branch{i}_lif" for u in ["body_1", unit][:1 + (unit != "body_1")] for i in range(4)]
    assert assert_same_spikes(model, graph, torch.rand(4, *shape) * 2) < 10
    with torch.no_grad():   # attention varying over t: only its mean over t is folded
        model.body[1].sma.attention.time_out[0].bias.copy_(torch.tensor([-1.0, 1.5]))
    graph = lower(model, shape, "calibrated", [torch.rand(4, *shape) * 2])
    note = next(n for n in graph.meta["folds"] if n["pass"] == "fold_sma")
    assert note["max_deviation_from_mean_over_t"] > 1e-3


def test_res19_tdbn_head_lowers_exactly_and_max_pool_stem_is_refused():
    """res19_head="tdbn" (FC 512 -> 256 -> neuron -> classes) lowers to Linear -> LIF -> Linear with
    every spike unchanged; stem_pool="max" (the papers' ImageNet stem) trains but is refused by name."""
    torch.manual_seed(0)
    cfg = ModelConfig(arch="res19", neuron="lif", num_classes=5, in_channels=3, input_size=8, timesteps=2,
                      res19_head="tdbn")
    model = build_model(cfg).eval()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(1.0, 3.0)
                mod.bias.uniform_(0.0, 2.0)
        model.head.hidden.weight.mul_(8.0)            # the hidden neurons fire
    graph = lower(model, (3, 8, 8), "none")
    assert graph.preds("head_fc") == ["head_neuron"] and graph.preds("head_neuron") == ["head_hidden"]
    assert assert_same_spikes(model, graph, torch.rand(3, 3, 8, 8) * 2) == 0
    stem = build_model(ModelConfig(arch="resnet18", neuron="lif", num_classes=5, in_channels=3,
                                   input_size=32, timesteps=2, stem_pool="max")).eval()
    with pytest.raises(UnsupportedModule, match=r"^body\.1\.module: MaxPool2d is not supported"):
        lower(stem, (3, 32, 32), "none")


def test_frozen_staa_is_the_calibrated_fold_and_lowers_exactly():
    """spikefold.compile.freeze writes the calibrated folds' constants into the model (the start of
    models/train.py's static phase): the frozen model lowers with fold="none" to the very graph the
    calibrated fold makes of the dynamic model, spikes as that graph does, and survives a
    checkpoint round trip (its config says static)."""
    import copy
    import dataclasses
    from spikefold.compile.freeze import freeze_attention
    model, shape = model_for("res20m", "staa")
    pin_attention(model, gate=True, context=0.3)      # layers that fire (a halving gate silences them)
    with torch.no_grad():
        for mod in model.modules():
            if hasattr(mod, "pos") and mod.pos is not None:
                mod.pos.copy_(torch.linspace(-0.2, 0.2, mod.pos.shape[0])[:, None].expand_as(mod.pos))
    calib = [torch.rand(4, *shape) * 2]
    dynamic = lower(model, shape, "calibrated", calib)
    frozen = copy.deepcopy(model)
    notes = freeze_attention(frozen, calib)
    assert frozen.cfg.staa_attention == "static" and model.cfg.staa_attention == "dynamic"
    assert {n["pass"] for n in notes} == {"fold_global_context", "fold_position_encoding", "fold_step_attention"}
    assert not any(n["exact"] for n in notes if n["pass"] == "fold_position_encoding")   # Pos varied over t
    static = lower(frozen, shape, "none")
    assert list(static.nodes) == list(dynamic.nodes)
    for name, node in static.nodes.items():
        for f in dataclasses.fields(node):
            a, b = getattr(node, f.name), getattr(dynamic.nodes[name], f.name)
            if isinstance(a, np.ndarray):
                assert np.allclose(a, b, rtol=1e-12, atol=1e-12), (name, f.name)
    x = torch.rand(4, *shape) * 2
    assert assert_same_spikes(frozen, static, x) == 0
    rebuilt = build_model(ModelConfig.from_dict(frozen.cfg.to_dict())).eval()
    rebuilt.load_state_dict(frozen.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt(x), frozen(x))
