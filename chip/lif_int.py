"""The integer LIF step of Lava's PyLifModelBitAcc, written once for every user in spikefold.

Per step, for one layer (any shape; parameters broadcast):
    u = wrap24( trunc(u * (4096 - (du + 1)) / 4096)  +  a * 64 )
    v = clip( trunc(v * (4096 - dv) / 4096) + u + bias, -(2**23 - 1), 2**23 - 1 )
    s = v > vth * 64 ;  v[s] = 0          (u is not reset)
trunc(p / 4096) is Lava's sign(p) * (|p| >> 12).  wrap24 is Lava's single
conditional correction: above 2**23 subtract 2**24, at or below -2**23 add 2**24
(not a modulo).  Lava adds in int32 arrays, so before wrap24 (and before the clip
of v) a sum that leaves the int32 range wraps around it (wrap32); with extreme
inputs u can stay far outside 24 bits and v's sum can overflow int32 too.
Values are integers held in float64, which represents every integer below 2**53
exactly, so products of 24-bit states and 12-bit decays (below 2**36) and every
step here are exact and run on fast float kernels.  `lif_steps_current_free` also
runs in float32 where its caller (simulate/engine.py) proves every value stays
below 2**24, splitting the decay's product where it could not.
"""
from __future__ import annotations

import numpy as np
import torch

from spikefold.chip.formats import ACT_SHIFT, DECAY_UNITY, DU_OFFSET, DV_OFFSET, UV_MAX


def decay(x: torch.Tensor, d) -> torch.Tensor:
    """trunc(x * (4096 - d) / 4096): Lava's decay, rounding toward zero."""
    return torch.trunc(x * (DECAY_UNITY - d) / DECAY_UNITY)


def wrap_signed(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Two's-complement overflow of an integer-valued float64 tensor to `bits` bits (a modulo)."""
    half = 1 << (bits - 1)
    return torch.remainder(x + half, 2 * half) - half


def wrap32(x: torch.Tensor) -> torch.Tensor:
    """Lava's int32 arithmetic."""
    return wrap_signed(x, 32)


def wrap24(u: torch.Tensor) -> torch.Tensor:
    return torch.where(u > UV_MAX, u - 2 * UV_MAX, torch.where(u <= -UV_MAX, u + 2 * UV_MAX, u))


def lif_step(u, v, a, du, dv, bias, vth_scaled, current_free: bool = False):
    """(u, v, a) -> (u, v, spikes, u before wrap24, v before clipping).  float64 tensors holding
    integers; vth_scaled = vth * 64.  current_free: every du is 4095, so u = a * 64 before the wrap.
    The two raw values let a caller count wraps and saturations."""
    drive = a * (1 << ACT_SHIFT)
    u_raw = wrap32(drive if current_free else decay(u, du + DU_OFFSET) + drive)
    u = wrap24(u_raw)
    v_raw = wrap32(decay(v, dv + DV_OFFSET) + u + bias)
    v = v_raw.clamp(-(UV_MAX - 1), UV_MAX - 1)
    s = v > vth_scaled
    return u, v.masked_fill(s, 0.0), s, u_raw, v_raw


def odd_part(k: np.ndarray) -> np.ndarray:
    """k with its factors of two removed (0 stays 0): v * k / 4096 needs |v| * odd_part(k) < 2**24
    to be exact in float32 (the division by a power of two is exact)."""
    k = np.asarray(k, dtype=np.int64)
    return k // np.where(k == 0, 1, k & -k)


def decay_f32(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """trunc(v * k / 4096) exactly in float32, for integers |v| < 2**24 and k in [0, 4096].

    The product can need 36 bits, so it is split: v = 4096 q + r with q = trunc(v / 4096) and
    |r| < 4096 of v's sign, so trunc(v k / 4096) = q k + trunc(r k / 4096) (q k is an integer of
    the same sign as the fraction).  Every intermediate is an integer below 2**24 or such an
    integer over 4096: exact.  Six passes instead of two; the simulator uses it only where the
    direct product could round (slow leaks on large v)."""
    q = torch.div(v, DECAY_UNITY, rounding_mode="trunc")
    r = v - q * DECAY_UNITY
    return torch.div(r.mul_(k), DECAY_UNITY, rounding_mode="trunc").add_(q.mul_(k))


def lif_steps_current_free(c: torch.Tensor, dv, vth_scaled, saturate: bool = True,
                           overflow: bool = False, split: bool = False):
    """All steps of a current-free layer (every du = 4095) at once, the simulator's hot loop.

    c: (steps, ...) = wrap24(wrap32(a * 64)) + bias per step, precomputed for every step (with du = 4095,
    u = wrap24(a << 6) does not depend on the state), float64, or float32 when every |c| < 2**24.
    The remaining recurrence per step is v = clip(trunc(v * (4096 - dv) / 4096) + c[t]), in c's
    dtype, in place.  In float64 the product v (4096 - dv) is exact (below 2**36); in float32 the caller proves it exact
    (|v| * odd_part(4096 - dv) < 2**24) or asks for `split` (decay_f32).  The sum before the clip
    can round in float32 only above 2**24, where it saturates anyway.  saturate=False skips the
    clip where the caller has proved |v| < 2**23 - 1, overflow=True applies wrap32 to the sum
    (needed only when |c| can come near 2**31, so only in float64).  The reset v[s] = 0 is
    v - v * s, exact (v - v = 0).  Same result as calling lif_step on each step.

    Returns spikes (steps, ...) as 0/1 in c's dtype and memory layout (what the next synapse
    layer's conv takes), how many neuron-steps saturated, and the final v."""
    k = (DECAY_UNITY - (dv + DV_OFFSET)).to(c.dtype)
    vth = vth_scaled.to(c.dtype)
    v = torch.zeros_like(c[0])
    out = torch.empty_like(c)
    sats = 0
    for t in range(c.shape[0]):
        # trunc(v k / 4096); division with rounding_mode="trunc" is torch.trunc's result, and
        # vectorised on CPU where torch.trunc is not (about 10x faster here)
        v = decay_f32(v, k) if split else v.mul_(k).div_(DECAY_UNITY, rounding_mode="trunc")
        v.add_(c[t])
        if overflow:
            v = wrap32(v)
        if saturate:
            sats += int((v > UV_MAX - 1).sum()) + int((v < -(UV_MAX - 1)).sum())
            v.clamp_(-(UV_MAX - 1), UV_MAX - 1)
        torch.gt(v, vth, out=out[t])
        v.addcmul_(v, out[t], value=-1)
    return out, sats, v
