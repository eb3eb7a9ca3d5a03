"""FSTA and SMA (models/fsta.py, models/sma.py): the equations, checked piece by piece."""
import pytest
import torch

from models.backbones import build_model
from models.config import ModelConfig
from models.fsta import FSTA, FSTALIF, dct_filters
from models.sma import SMALIF


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
    m = SMALIF(channels=8, timesteps=4, azo_t=0.5, azo_c=0.5)
    with torch.no_grad():                     # branch neurons that fire often, differently per channel
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.bias.uniform_(0.5, 3.0)
    x = torch.randn(4, 3, 8, 6, 6) * 3
    m.eval()                                  # BatchNorm with running statistics throughout
    spikes = m.branch_spikes(x)
    a = m.attention(spikes)
    assert a.shape == (4, 4, 3, 8) and (a > 0).all()
    # A_T,i and A_C,i each sum to 1 over branches, so their product sums to at most 1
    assert (a.sum(0) <= 1 + 1e-6).all()
    out = m(x)
    assert torch.allclose(out, sum(a[i][..., None, None] * s for i, s in enumerate(spikes)), atol=1e-6)
    assert torch.equal(m(x), out)                    # no zone-out at evaluation
    m.train()
    for mod in m.modules():                   # training mode for AZO only, BN kept in eval
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.eval()
    zoned = m(x)
    kept = (zoned[1:] == zoned[:-1]).all(dim=(1, 3, 4))   # (T-1, C): positions holding t-1's value
    assert out.abs().sum() > 0 and kept.any() and not torch.equal(zoned, out)


@pytest.mark.parametrize("neuron", ["fsta", "sma"])
def test_selectable_on_a_backbone(neuron):
    m = build_model(ModelConfig(arch="digitnet", neuron=neuron, num_classes=3, in_channels=1,
                                input_size=8, timesteps=2)).eval()
    assert m(torch.rand(2, 1, 8, 8)).shape == (2, 2, 3)
