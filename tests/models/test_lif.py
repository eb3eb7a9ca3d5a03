"""LIF and adaptive LIF against hand-derived trajectories (eq. 1-3, 6)."""

import pytest
import torch

from spikefold.models.lif import LIF, AdaptiveLIF, leaky_step


def test_lif_membrane_trajectory_by_hand():
    # tau = 2: V = H/2 + I/2, v_th = 1, hard reset to 0.
    # I = 1.5, 1.5, 0, 3.0, 0.4
    # t0: V = 0.75           -> no spike, H = 0.75
    # t1: V = 0.375 + 0.75 = 1.125 -> spike, H = 0
    # t2: V = 0              -> no spike, H = 0
    # t3: V = 1.5            -> spike, H = 0
    # t4: V = 0.2            -> no spike, H = 0.2
    current = torch.tensor([1.5, 1.5, 0.0, 3.0, 0.4]).view(5, 1, 1)
    expected_v = [0.75, 1.125, 0.0, 1.5, 0.2]
    expected_s = [0, 1, 0, 1, 0]
    h = torch.zeros(1, 1)
    vs, ss = [], []
    for t in range(5):
        v = 0.5 * h + 0.5 * current[t]  # V before the reset, as eq. (1)
        h, s = leaky_step(h, current[t], 0.5, 0.5, 1.0)
        vs.append(v.item())
        ss.append(int(s.item()))
    assert vs == pytest.approx(expected_v)
    assert ss == expected_s
    out = LIF(tau=2.0)(current)
    assert out.view(-1).tolist() == expected_s


def test_threshold_is_inclusive_as_heaviside_of_eq2():
    # Theta(x) = 1 for x >= 0: V exactly at v_th spikes.
    out = LIF(tau=1.0)(torch.ones(1, 1, 1))
    assert out.item() == 1.0


def test_adaptive_lif_starts_as_lif_and_learns_per_channel():
    x = torch.rand(6, 3, 4, 5, 5) * 2
    lif, ada = LIF(tau=2.0), AdaptiveLIF(4, tau=2.0)
    assert torch.equal(lif(x), ada(x))
    ada(x).sum().backward()
    assert ada.m.grad.shape == (4,) and ada.n.grad.shape == (4,)
    assert ada.n.grad.abs().sum() > 0
