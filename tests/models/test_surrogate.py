"""The rectangular surrogate of eq. (5): 1/a inside |V - v_th| < a/2, 0 outside."""

import pytest
import torch

from models.surrogate import spike


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
