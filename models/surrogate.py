"""Heaviside spike with the rectangular surrogate gradient of STAA-SNN eq. (5).

Forward:  S = Theta(x), with x = V - v_th, and Theta(x) = 1 if x >= 0 else 0 (eq. 2).
Backward: dS/dV = (1/a) * 1[|x| < a/2], a rectangle of width a centred on the
threshold; the paper sets a = 1, giving gradient 1 for v_th - 0.5 < V < v_th + 0.5.
"""

import torch


class _RectangularSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, a: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.a = a
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (x,) = ctx.saved_tensors
        window = (x.abs() < ctx.a / 2).to(grad_out.dtype) / ctx.a
        return grad_out * window, None


def spike(x: torch.Tensor, a: float = 1.0) -> torch.Tensor:
    """Spike where x = V - v_th >= 0; gradient (1/a) inside |x| < a/2, else 0."""
    return _RectangularSpike.apply(x, a)
