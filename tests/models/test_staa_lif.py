"""STAA-LIF: reduces exactly to LIF when neutralised; TSRD only in training."""

import math

import pytest
import torch

from spikefold.models.attention import GlobalContext, StepAttention
from spikefold.models.lif import LIF
from spikefold.models.staa_lif import STAALIF


def neutralise(neuron: STAALIF) -> STAALIF:
    """Pos = 0, GC context vectors 0, SA gate 1, M and N at their LIF values."""
    with torch.no_grad():
        neuron.pos.zero_()
        for gc in (neuron.gc_in, neuron.gc_mem):
            gc.value.weight.zero_()
            gc.value.bias.zero_()
        neuron.sa.fc2.weight.zero_()
        neuron.sa.fc2.bias.fill_(math.inf)  # sigmoid(+inf) == 1 exactly
        neuron.m.fill_(1 - 1 / neuron.tau)
        neuron.n.fill_(1 / neuron.tau)
    return neuron


def randomise(neuron: STAALIF) -> STAALIF:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in neuron.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return neuron


@pytest.mark.parametrize("shape", [(5, 3, 8, 6, 6), (5, 3, 8)])
def test_neutralised_staa_lif_equals_lif_exactly(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape) * 1.5
    staa = neutralise(randomise(STAALIF(8, timesteps=5, tau=2.0)))
    expected = LIF(tau=2.0)(x)
    assert expected.sum() > 0  # the comparison is not between two silent outputs
    assert torch.equal(staa(x), expected)


@pytest.mark.parametrize("component", ["pos", "gc_in", "gc_mem", "sa", "m", "n"])
def test_each_component_changes_the_output_once_active(component):
    torch.manual_seed(0)
    x = torch.randn(4, 2, 8, 5, 5) * 1.5
    net = neutralise(randomise(STAALIF(8, timesteps=4)))
    ref = net(x)
    with torch.no_grad():
        if component in ("gc_in", "gc_mem"):
            getattr(net, component).value.bias.fill_(0.7)
        elif component == "sa":
            net.sa.fc2.bias.fill_(-1.0)  # gate sigmoid(-1) ~ 0.27 instead of 1
        else:
            getattr(net, component).add_(0.4)
    assert not torch.equal(net(x), ref)


def test_gc_context_is_a_per_channel_vector_and_starts_at_zero():
    gc = GlobalContext(16, r=4)
    x = torch.rand(3, 16, 5, 5)
    assert gc.context(x).shape == (3, 16, 1, 1)
    assert torch.equal(gc(x), x)  # value conv zero-initialised, as in GCNet
    assert gc.query.out_channels == 4


def test_step_attention_gate_is_global_average_based():
    sa = StepAttention(32, reduction=16, alpha=2.0)
    u = torch.rand(2, 32, 4, 4)
    shuffled = u.flatten(2)[..., torch.randperm(16)].view_as(u)
    assert torch.allclose(sa.gate(u), sa.gate(shuffled))  # depends only on the spatial mean
    assert sa.fc1.out_channels == 2


def test_tsrd_is_inactive_in_eval_mode():
    torch.manual_seed(0)
    x = torch.randn(6, 4, 8, 3, 3) * 2
    with_tsrd = randomise(STAALIF(8, timesteps=6, tsrd_beta=1.0))
    without = STAALIF(8, timesteps=6, tsrd_beta=0.0)
    without.load_state_dict(with_tsrd.state_dict())
    with_tsrd.eval(), without.eval()
    assert torch.equal(with_tsrd(x), without(x))
    # and the two nets do differ where TSRD acts (training), so the equality above is TSRD's doing
    with_tsrd.train(), without.train()
    assert not torch.equal(with_tsrd(x), without(x))


def test_tsrd_in_training_replaces_aggregation_by_addition_after_step_0():
    torch.manual_seed(0)
    x = torch.randn(4, 2, 8, 3, 3) * 2
    net = randomise(STAALIF(8, timesteps=4, tsrd_beta=1.0)).train()
    assert net.tsrd_mask(4) == [False, True, True, True]
    # By hand: step 0 aggregates with GC and SA, steps 1.. add N*X + M*H (PE kept).
    m, n = net.m.view(1, -1, 1, 1), net.n.view(1, -1, 1, 1)
    xp = x + net.pos.view(4, 1, 8, 1, 1)
    h = torch.zeros_like(x[0])
    expected = []
    for t in range(4):
        if t == 0:
            v = net.sa(n * net.gc_in(xp[0]) + m * net.gc_mem(h))
        else:
            v = n * xp[t] + m * h
        s = (v >= 1.0).float()
        h = v * (1 - s)
        expected.append(s)
    expected = torch.stack(expected)
    assert expected[1:].sum() > 0
    assert torch.equal(net(x), expected)


def test_rejects_more_steps_than_positions():
    with pytest.raises(ValueError, match="T=2"):
        STAALIF(4, timesteps=2)(torch.zeros(3, 1, 4))


def test_sa_scale_multiplies_the_gate_and_attention_lr_is_its_own_group():
    """Issue 15's probes: sa_scale 2 gives the gate of eq. 12 times two (near 1 at the start, not
    0.5); attention_lr puts GC, SA and PE parameters in their own optimiser group."""
    from spikefold.models.backbones import build_model
    from spikefold.models.config import ModelConfig
    from spikefold.models.train import param_groups
    torch.manual_seed(0)
    one, two = (build_model(ModelConfig(sa_scale=s)) for s in (1.0, 2.0))
    two.load_state_dict(one.state_dict())
    sa1, sa2 = (next(m for m in net.modules() if isinstance(m, StepAttention)) for net in (one, two))
    u = torch.randn(5, 16, 4, 4)
    assert torch.allclose(sa2.gate(u), 2 * sa1.gate(u)) and 0.4 < float(sa1.gate(u).mean()) < 0.6
    rest, att = param_groups(one, 0.1, 0.25)
    expected = {id(p) for m in one.modules() if isinstance(m, (GlobalContext, StepAttention))
                for p in m.parameters()} | {id(m.pos) for m in one.modules() if getattr(m, "pos", None) is not None}
    assert {id(p) for p in att["params"]} == expected and att["lr"] == 0.025 and rest["lr"] == 0.1
    assert len(rest["params"]) + len(att["params"]) == len(list(one.parameters()))


def test_fsta_scalars_learn_slowly_and_its_gain_stays_positive():
    """Issue 40: FSTA's a, b, p, q in their own group (lr / 100, no weight decay), and p, q kept
    >= 0 after each step, so the gain the fold divides thresholds by never turns negative."""
    from spikefold.models.backbones import build_model
    from spikefold.models.config import ModelConfig
    from spikefold.models.fsta import FSTA
    from spikefold.models.train import FSTA_SCALAR_LR, constrain_leaks, param_groups
    net = build_model(ModelConfig(neuron="fsta"))
    groups = param_groups(net, 0.1, 1.0)
    fsta = [m for m in net.modules() if isinstance(m, FSTA)]
    assert groups[-1]["params"] == [p for m in fsta for p in (m.a, m.b, m.p, m.q)]
    assert groups[-1]["lr"] == 0.1 * FSTA_SCALAR_LR and groups[-1]["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
    with torch.no_grad():
        fsta[0].p.fill_(-0.5)
        fsta[0].q.fill_(-2.0)
    constrain_leaks(net)
    assert float(fsta[0].p) == 0.0 and float(fsta[0].q) == 0.0


@pytest.mark.parametrize("adaptive", [True, False])
def test_make_static_gives_the_module_a_static_config_builds(adaptive):
    """make_static (the start of the static phase) leaves the parameters and buffers, in order,
    that STAALIF(attention="static") has: a resumed optimiser's state lands on the same tensors."""
    frozen = STAALIF(8, 4, adaptive=adaptive)
    frozen.make_static(torch.full((8,), 0.3), torch.full((8,), 0.4), torch.full((8,), 0.1))
    built = STAALIF(8, 4, adaptive=adaptive, attention="static")
    assert [n for n, _ in frozen.named_parameters()] == [n for n, _ in built.named_parameters()]
    assert [n for n, _ in frozen.named_buffers()] == [n for n, _ in built.named_buffers()]
    built.load_state_dict(frozen.state_dict())
    x = torch.rand(4, 2, 8, 3, 3) * 2
    assert torch.equal(built(x), frozen(x))
    h = torch.zeros(2, 8, 3, 3)
    for t in range(4):       # V = leak H + gain I + drive, spike at v >= 1, hard reset
        v = 0.3 * h + 0.4 * x[t] + 0.1
        s = (v >= 1.0).float()
        assert torch.equal(frozen(x)[t], s)
        h = v * (1 - s)
