"""The integer LIF step of Lava's PyLifModelBitAcc, written once for every user in spikefold.

Per step, on int64 tensors of one layer (any shape; parameters broadcast):
    u = wrap24( sign(u*(4096-(du+1))) * (|u*(4096-(du+1))| >> 12)  +  (a << 6) )
    v = clip( sign(v*(4096-dv)) * (|v*(4096-dv)| >> 12) + u + bias, -(2**23-1), 2**23-1 )
    s = v > vth << 6 ;  v[s] = 0          (u is not reset)
wrap24 is Lava's single conditional correction: above 2**23 subtract 2**24, at or
below -2**23 add 2**24 (not a modulo).  Returns the new state, the spikes, and
how many neurons wrapped u or saturated v this step.
"""
from __future__ import annotations

import torch

from simulate.constants import ACT_SHIFT, DECAY_SHIFT, DECAY_UNITY, DU_OFFSET, DV_OFFSET, UV_MAX, VTH_SHIFT


def _decay(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """sign(x * (4096 - d)) * (|x * (4096 - d)| >> 12): Lava's round-toward-zero decay."""
    p = x * (DECAY_UNITY - d)
    return torch.sign(p) * (p.abs() >> DECAY_SHIFT)


def lif_step(u, v, a, du, dv, bias, vth):
    """(u, v, a_in) -> (u, v, spikes (bool), u_wraps, v_saturations); all int64."""
    u = _decay(u, du + DU_OFFSET) + (a << ACT_SHIFT)
    over, under = u > UV_MAX, u <= -UV_MAX
    u = torch.where(over, u - 2 * UV_MAX, torch.where(under, u + 2 * UV_MAX, u))
    v = _decay(v, dv + DV_OFFSET) + u + bias
    sat = (v > UV_MAX - 1) | (v < -(UV_MAX - 1))
    v = v.clamp(-(UV_MAX - 1), UV_MAX - 1)
    s = v > (vth << VTH_SHIFT)
    v = torch.where(s, torch.zeros_like(v), v)
    return u, v, s, int((over | under).sum()), int(sat.sum())
