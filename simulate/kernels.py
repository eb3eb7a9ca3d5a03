"""How each synapse layer of a program runs in the fast simulator (simulate/engine.py): its integer
weights as a float tensor and the cheapest exact way to apply them (`kernel`), and its fan-out
per source neuron (`fanout`, for the synaptic-event counts).

Integer weights times 0/1 spikes summed in float32 are exact while no sum can reach 2**24
(EXACT_F32); `kernel` picks float32 there and float64 otherwise, and on a GPU always float64
(cuDNN's Winograd or FFT algorithms, and TF32 matmuls, are not exact in float32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spikefold.chip.program import SynapseLayer
from spikefold.chip.weights import lava_weights

EXACT_F32 = 1 << 24


def fanout(s: SynapseLayer) -> torch.Tensor:
    """Number of synapses leaving each source neuron, shape in_shape, float64 on the CPU
    (structural for Dense and Conv: zero weights count; Sparse: the nonzero ones)."""
    if s.kind == "dense":
        return torch.full(s.in_shape, float(s.weight.shape[0]), dtype=torch.float64, device="cpu")
    if s.kind == "sparse":
        return torch.from_numpy(np.count_nonzero(s.weight, axis=0).reshape(s.in_shape).astype(np.float64))
    ones = torch.ones(1, *s.out_shape, dtype=torch.float64, device="cpu")
    k = torch.ones(s.weight.shape, dtype=torch.float64, device="cpu")
    back = F.conv_transpose2d(ones, k, None, s.stride, s.padding,
                              output_padding=_output_padding(s))
    return back[0]


def _output_padding(s: SynapseLayer) -> tuple:
    out = []
    for i in range(2):
        size = (s.out_shape[i + 1] - 1) * s.stride[i] - 2 * s.padding[i] + s.weight.shape[i + 2]
        out.append(s.in_shape[i + 1] - size)
    return tuple(out)


@dataclass(frozen=True)
class Kernel:
    """How one synapse layer runs.  `weight` (float32 or float64, on the device) is applied as a
    conv with `stride`, `padding` and `groups` (C for channel-diagonal weights, stored (C, 1, kh, kw);
    1 otherwise), after sum-pooling the spikes by `pool` when the layer's kernel is a smaller one
    spread over pool x pool blocks; as a per-channel product (`pointwise`: a diagonal 1x1 conv of
    stride 1, weight (C, 1, 1), or a diagonal matrix, weight (F,)); or as a matmul (dense, sparse).  `bound` is the largest |activation| it
    can deliver (before a wrap)."""
    weight: torch.Tensor
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    groups: int = 1
    pool: tuple | None = None
    pointwise: bool = False
    bound: float = 0.0


def pooled_kernel(w: np.ndarray, stride: tuple, padding: tuple) -> np.ndarray | None:
    """The kernel k such that conv(x, w, stride s, padding p) = conv(sum_pool_s(x), k, stride 1,
    padding p / s), or None.  It exists when every s x s block of w holds one value and s divides
    the kernel size and the padding: what deploy folds an average pool followed by a conv (or a
    strided shortcut) into.  Both sides add the same integer products, regrouped, so the result
    is identical; the pooled form costs 1 / (sh sw) of the multiplies."""
    sh, sw = stride
    kh, kw = w.shape[2:]
    if (sh, sw) == (1, 1) or kh % sh or kw % sw or padding[0] % sh or padding[1] % sw:
        return None
    small = w[:, :, ::sh, ::sw]
    if not np.array_equal(np.repeat(np.repeat(small, sh, axis=2), sw, axis=3), w):
        return None
    return small


def channel_diagonal(w: np.ndarray) -> np.ndarray | None:
    """w[c, c] (a conv's (C, kh, kw) kernels, a matrix's (C,) entries) when output channel c reads
    input channel c only, for C > 1; else None."""
    if not w.shape[0] == w.shape[1] > 1:
        return None
    diag = np.arange(w.shape[0])
    return w[diag, diag] if np.count_nonzero(w) == np.count_nonzero(w[diag, diag]) else None


def kernel(s: SynapseLayer, device: torch.device, channels_last: bool = False) -> Kernel:
    w = s.weight if s.kind == "conv" else lava_weights(s.weight)     # what Dense and Sparse do on step 1
    bound = float(np.abs(w).reshape(w.shape[0], -1).sum(1).max())
    exact32 = bound < EXACT_F32 and device.type == "cpu"     # GPUs: float64 (TF32, Winograd, FFT)
    dtype = torch.float32 if exact32 else torch.float64
    opts = {"bound": bound * (1 << s.weight_exp) if s.kind != "conv" and s.weight_exp > 0 else bound}
    if s.kind == "conv":
        opts.update(stride=tuple(s.stride), padding=tuple(s.padding))
        small = pooled_kernel(w, tuple(s.stride), tuple(s.padding))
        if small is not None:
            w = small
            opts.update(pool=tuple(s.stride), stride=(1, 1),
                        padding=(s.padding[0] // s.stride[0], s.padding[1] // s.stride[1]))
        diag = channel_diagonal(w)
        if diag is not None:                     # each channel feeds only itself
            w = diag[:, None]
            opts["groups"] = w.shape[0]
            if w.shape[2:] == (1, 1) and opts["stride"] == (1, 1) and opts["padding"] == (0, 0):
                opts["pointwise"], w = True, w.reshape(-1, 1, 1)
    elif (diag := channel_diagonal(w)) is not None:             # a diagonal matrix: SMA's mixes, relays
        opts["pointwise"], w = True, diag
    w = torch.as_tensor(w, dtype=dtype, device=device)
    if channels_last and w.dim() == 4:          # else oneDNN reorders the weights on every call
        w = w.contiguous(memory_format=torch.channels_last)
    return Kernel(w, **opts)


# per-step reductions over a layer's states or spikes (steps, B, *shape), in memory order

def by_neuron(x: torch.Tensor) -> torch.Tensor:
    """(steps, B, *shape) -> (steps, B, neurons), a view in memory order (for channels-last
    states the neurons run H, W, C): reductions over it take the fast contiguous path."""
    if x.dim() == 5 and not x.is_contiguous():
        x = x.permute(0, 1, 3, 4, 2)
    return x.reshape(*x.shape[:2], -1)


def in_c_order(per_neuron: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(steps, neurons) reduced over by_neuron(like) back to neurons in C order (C, H, W)."""
    if like.dim() == 5 and not like.is_contiguous():
        S, _, C, H, W = like.shape
        return per_neuron.view(S, H, W, C).permute(0, 3, 1, 2).reshape(S, -1)
    return per_neuron


def max_abs_per_step(x: torch.Tensor) -> torch.Tensor:
    """max |x| over each step of x (steps, B, *shape), on the CPU (steps,)."""
    flat = by_neuron(x)
    return torch.maximum(flat.amax(dim=(1, 2)), -flat.amin(dim=(1, 2))).cpu()


def count_nonzero(x: torch.Tensor) -> torch.Tensor:
    """Nonzero entries of each step of x (steps, B, *shape), float64 (steps,).  |sign| summed over
    the batch in x's dtype (exact: each sum is at most B < 2**24), then over neurons in float64;
    several times faster on CPU than x.ne(0).sum()."""
    flat = by_neuron(x)
    return flat.abs().sign_().sum(dim=1).double().sum(dim=1)
