"""Heaviside spike with a surrogate gradient.

Forward:  S = Theta(x), with x = V - v_th, and Theta(x) = 1 if x >= 0 else 0 (eq. 2).
Backward, "rect" (STAA-SNN eq. 5): dS/dV = (1/a) * 1[|x| < a/2], a rectangle of width a
centred on the threshold; the paper sets a = 1, giving gradient 1 for v_th - 0.5 < V < v_th + 0.5.
Backward, "atan" (SpikingJelly's surrogate.ATan, alpha = 2, which the SMA authors train with):
dS/dV = (alpha / 2) / (1 + (pi alpha x / 2)^2).
"""
import math

import torch


def _rect_grad(x: torch.Tensor, a: float) -> torch.Tensor:
    return (x.abs() < a / 2).to(x.dtype) / a


def _atan_grad(x: torch.Tensor, a: float, alpha: float = 2.0) -> torch.Tensor:
    return (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2)


SURROGATE_GRADS = {"rect": _rect_grad, "atan": _atan_grad}
SURROGATES = tuple(SURROGATE_GRADS)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, a: float, kind: str) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.a, ctx.kind = a, kind
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_out * SURROGATE_GRADS[ctx.kind](x, ctx.a).to(grad_out.dtype), None, None


def spike(x: torch.Tensor, a: float = 1.0, kind: str = "rect") -> torch.Tensor:
    """Spike where x = V - v_th >= 0.  rect: gradient (1/a) inside |x| < a/2, else 0; atan:
    alpha = 2 (a unused)."""
    return _Spike.apply(x, a, kind)
