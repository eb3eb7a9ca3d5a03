"""FSTA and SMA (models/fsta.py, models/sma.py): the equations, checked piece by piece."""
import pytest
import torch

from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig
from spikefold.models.fsta import FSTA, FSTALIF, dct_filters
from spikefold.models.lif import LIF
from spikefold.models.sma import MultiscaleAttention, SMAConvBNSpike, sma_units


def test_dct_filters_are_an_orthonormal_basis():
    d = dct_filters(7).view(49, 49).double()
    assert torch.allclose(d @ d.T, torch.eye(49, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(d[0], torch.full((49,), 1 / 7, dtype=torch.float64), atol=1e-7)  # DC filter


def test_fsta_is_a_gain_on_its_input():
    torch.manual_seed(0)
    f = FSTA(timesteps=3)
    x = torch.randn(3, 2, 4, 5, 5)
    g = f.gain(x)
    assert g.shape == (3, 2, 1, 5, 5)
    assert torch.allclose(f(x), x * g, atol=1e-6)
    # zero time map and spatial conv: w = s = 1/2, g = 1.5 * (p + 1.5 q) / 2 everywhere
    with torch.no_grad():
        f.time.weight.zero_()
        f.spatial.weight.zero_()
    assert torch.allclose(f.gain(x), torch.full_like(g, 1.5 * (0.6 + 0.5 * 1.5) / 2))


def test_fsta_lif_uses_its_own_decay_and_threshold():
    n = FSTALIF(timesteps=3, decay=0.25, v_th=0.5)
    with torch.no_grad():   # make FSTA the identity: w = sigmoid(0) = 0.5, q = 0, p = 2 / 1.5: (1 + w) p / 2 = 1
        n.fsta.time.weight.zero_()
        n.fsta.p.fill_(2.0 / 1.5)
        n.fsta.q.zero_()
    x = torch.full((3, 1, 1, 2, 2), 0.2)
    # V: 0.2, 0.25*0.2+0.2 = 0.25, 0.25*0.25+0.2 = 0.2625 -> never reaches 0.5
    assert n(x).sum() == 0
    assert n(x * 2.5).flatten(1)[:, 0].tolist() == [1.0, 1.0, 1.0]   # 0.5 >= 0.5 at every step


def test_sma_attention_is_a_distribution_over_branches_and_azo_only_trains():
    torch.manual_seed(0)
    m = MultiscaleAttention(channels=8, timesteps=4, lif=LIF().settings(), azo_t=0.5, azo_c=0.5)
    with torch.no_grad():                     # branch neurons that fire often, differently per channel
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.bias.uniform_(0.5, 3.0)
    x = torch.randn(4, 3, 8, 6, 6) * 3        # a conv's real-valued output, SMA's input
    m.eval()                                  # BatchNorm with running statistics throughout
    spikes = m.branch_spikes(x)
    assert all(set(s.unique().tolist()) <= {0.0, 1.0} for s in spikes)
    a = m.attention(spikes)
    assert a.shape == (4, 4, 3, 8) and (a > 0).all()
    # A_T,i and A_C,i each sum to 1 over branches, so their product sums to at most 1
    assert (a.sum(0) <= 1 + 1e-6).all()
    out = m(x)
    assert torch.allclose(out, sum(a[i][..., None, None] * s for i, s in enumerate(spikes)), atol=1e-6)
    assert len(out.unique()) > 2                     # real-valued: the block's BN and LIF make spikes
    assert torch.equal(m(x), out)                    # no zone-out at evaluation
    m.train()
    for mod in m.modules():                   # training mode for AZO only, BN kept in eval
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.eval()
    zoned = m(x)
    kept = (zoned[1:] == zoned[:-1]).all(dim=(1, 3, 4))   # (T-1, C): positions holding t-1's value
    assert out.abs().sum() > 0 and kept.any() and not torch.equal(zoned, out)
    # n_t = int(0.5 * 4) = 2 timesteps, at each n_c = int(0.5 * 8) = 4 channels: 8 (t, c) pairs, and
    # no channel held at every step (zoning is per selected timestep, not per channel throughout)
    assert int(kept.sum()) >= 8 and not kept.all(0).any()


def test_sma_sits_between_conv_and_batchnorm_in_the_authors_blocks():
    """conv -> SMA -> BN -> LIF, in the units [n/5, 3n/5): VGG-8's blocks 2 and 3 of five, digitnet's
    second of three; the other units stay conv -> BN -> LIF."""
    assert sma_units("auto", 5) == [1, 2] and sma_units("auto", 3) == [1] and sma_units("0,2", 3) == [0, 2]
    with pytest.raises(ValueError, match="0..2"):
        sma_units("3", 3)
    m = build_model(ModelConfig(arch="digitnet", neuron="sma", num_classes=3, timesteps=2)).eval()
    units = [u for u in m.body if isinstance(u, SMAConvBNSpike)]
    assert len(units) == 1 and m.body[1] is units[0]
    u = units[0]
    with torch.no_grad():                                 # BatchNorms far from the identity: order matters
        for bn in (mod for mod in u.modules() if isinstance(mod, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-1.0, 1.0)
            bn.running_var.uniform_(0.2, 2.0)
            bn.weight.uniform_(0.5, 3.0)
            bn.bias.uniform_(-0.5, 1.5)
    x = torch.rand(2, 4, 16, 8, 8).round()                # (T, B, C, H, W) spikes from unit 0
    y = u(x)
    assert torch.equal(y, u.lif(u.bn(u.sma(u.conv(x))))) and 0.05 < y.mean() < 0.95
    assert isinstance(m.body[0][1], LIF) and isinstance(m.body[3][1], LIF)


@pytest.mark.parametrize("neuron", ["fsta", "sma"])
def test_selectable_on_a_backbone(neuron):
    m = build_model(ModelConfig(arch="digitnet", neuron=neuron, num_classes=3, in_channels=1,
                                input_size=8, timesteps=2)).eval()
    assert m(torch.rand(2, 1, 8, 8)).shape == (2, 2, 3)
