"""The rectangular surrogate of eq. (5): 1/a inside |V - v_th| < a/2, 0 outside."""

import pytest
import torch

from spikefold.models.surrogate import spike


@pytest.mark.parametrize("a", [1.0, 0.5, 2.0])
def test_gradient_inside_and_outside_the_window(a):
    x = torch.tensor([-a, -0.51 * a, -0.49 * a, 0.0, 0.49 * a, 0.51 * a, a], requires_grad=True)
    s = spike(x, a)
    assert s.tolist() == [0, 0, 0, 1, 1, 1, 1]
    s.sum().backward()
    inside = 1.0 / a
    assert x.grad.tolist() == pytest.approx([0, 0, inside, inside, inside, 0, 0])


def test_window_edges_are_open():
    x = torch.tensor([-0.5, 0.5], requires_grad=True)
    spike(x, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_atan_surrogate_is_spikingjellys_with_alpha_2():
    """SpikingJelly's surrogate.ATan (the SMA authors'): (alpha/2) / (1 + (pi alpha x / 2)^2), alpha = 2;
    at x = 0 it is 1, at x = 1/pi it is 1/2."""
    x = torch.tensor([-1.0, 0.0, 1 / 3.141592653589793, 2.0], requires_grad=True)
    s = spike(x, kind="atan")
    assert s.tolist() == [0, 1, 1, 1]
    s.sum().backward()
    assert x.grad.tolist() == pytest.approx([1 / (1 + 3.141592653589793 ** 2), 1.0, 0.5, 1 / (1 + (2 * 3.141592653589793) ** 2)])


def test_detached_reset_drops_the_resets_gradient():
    from spikefold.models.lif import LIF
    x = torch.full((3, 1, 1), 1.5, requires_grad=True)          # fires at t = 0: the reset acts
    grads = []
    for detach in (False, True):
        x.grad = None
        LIF(detach_reset=detach)(x).sum().backward()
        grads.append(x.grad.clone())
    assert not torch.equal(*grads)
