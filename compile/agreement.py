"""Do two float computations of one network spike alike?  Tie-aware spike agreement.

Two float computations of the same network (a checkpoint and its folded graph, a peer's
simulator and ours, one program on two CPUs) sum in different orders, so their membrane
potentials differ by rounding: about 1e-7 relative in float32, 1e-16 in float64.  A neuron
whose potential lies within that of its threshold (a tie) may fire in one and not in the other,
and what it feeds (its own layer's later steps, every later layer, the output) can then differ
by far more than rounding, on that sample only.  No choice of kernels or environment variables
makes such ties agree on every machine; what can be asserted on any machine is:

  * a differing position (step t, sample b, neuron) is a *tie* where |v - v_th| < eps, v the
    reference side's membrane potential before reset;
  * after a sample's first tie (layer k, step t), that sample's positions in layer k at steps
    after t, and in every layer after k at steps t and later, are *downstream*: counted, never
    compared (layers are taken in the order given: topological, branches treated as downstream);
  * any other differing position is *far*: a real disagreement, which a test asserts is none;
  * samples with no tie are *clean*: their outputs must agree to rounding (`outputs_agree`).

Shapes: spikes and potentials (T, B, *neuron shape), T steps and B samples; v_th a scalar, or
per channel (C,), or per neuron; outputs (T, B, K).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

# The tie width for two float64 computations, in membrane-potential units (thresholds ~1): their
# rounding differences are ~1e-15, so 1e-9 leaves six orders of magnitude of margin and still
# calls almost nothing a tie.
TIE64 = 1e-9
NONE = torch.iinfo(torch.long).max   # "no tie yet" as a step index

@dataclass(frozen=True)
class LayerAgreement:
    """Counts of (step, sample, neuron) positions of one neuron layer."""
    positions: int     # every position
    differ: int        # positions whose spikes differ
    ties: int          # differing positions at a tie (|v - v_th| < eps)
    downstream: int    # positions after a tie of the same sample (not compared)
    far: int           # differing positions neither at a tie nor downstream of one

    @property
    def agreement(self) -> float:
        """Fraction of positions with equal spikes (ties and downstream included)."""
        return 1.0 - self.differ / max(self.positions, 1)


@dataclass(frozen=True)
class Agreement:
    layers: dict               # name -> LayerAgreement, in the order compared
    clean: torch.Tensor        # (B,) bool: samples with no tie in any layer
    eps: float                 # the tie width, in membrane-potential units

    @property
    def far(self) -> int:
        return sum(l.far for l in self.layers.values())

    @property
    def ties(self) -> int:
        return sum(l.ties for l in self.layers.values())

    @property
    def tainted(self) -> int:
        """Samples with at least one tie."""
        return int((~self.clean).sum())

    def holds(self, max_tainted: float = 0.01) -> bool:
        """No far difference, and at most a fraction `max_tainted` of the samples hold a tie."""
        return self.far == 0 and self.tainted <= max_tainted * len(self.clean)

    def __str__(self) -> str:
        per = ", ".join(f"{k} {l.differ}/{l.positions} ({l.ties} ties, {l.far} far)" for k, l in self.layers.items())
        return (f"spikes differ: {per}; {self.tainted} of {len(self.clean)} samples hold a tie "
                f"(|v - v_th| < {self.eps:g})")


def _threshold(v_th, v: torch.Tensor) -> torch.Tensor:
    """v_th broadcast against v (T, B, *shape): a scalar, per channel (C,) or per neuron (*shape)."""
    t = torch.as_tensor(np.asarray(v_th, dtype=np.float64), dtype=v.dtype, device=v.device)
    if t.dim() == 0 or t.shape == v.shape[2:]:
        return t
    return t.view(-1, *([1] * (v.dim() - 3)))     # (C,) against (T, B, C, ...)


def spike_agreement(layers: Iterable[tuple], eps: float) -> Agreement:
    """Agreement of spikes `got` with `ref` over `layers`: (name, ref, got, v, v_th) tuples in
    topological order, ref/got (T, B, *shape) spikes (any dtype, nonzero = spike), v the
    reference side's potential before reset (T, B, *shape) and v_th its threshold."""
    out, first = {}, None      # first[b]: step of sample b's first tie so far (NONE: no tie)
    for name, ref, got, v, v_th in layers:
        ref, got = ref.reshape(v.shape) != 0, got.reshape(v.shape) != 0
        T, B = v.shape[:2]
        if first is None:
            first = torch.full((B,), NONE, dtype=torch.long, device=v.device)
        steps = torch.arange(T, device=v.device).view(T, 1, *([1] * (v.dim() - 2)))
        differ = ref != got
        tie = differ & ((v - _threshold(v_th, v)).abs() < eps)
        before = first.view(1, B, *([1] * (v.dim() - 2)))
        down = steps >= before                               # after a tie in an earlier layer
        tie_step = torch.where(tie, steps.expand_as(tie), NONE).flatten(2).amin(2).amin(0)   # (B,)
        down = down | (steps > tie_step.view_as(before))     # after a tie in this layer
        tie = tie & ~down
        out[name] = LayerAgreement(positions=differ.numel(), differ=int(differ.sum()), ties=int(tie.sum()),
                                   downstream=int(down.expand_as(differ).sum()),
                                   far=int((differ & ~tie & ~down).sum()))
        first = torch.minimum(first, tie_step)
    clean = torch.ones(0, dtype=torch.bool) if first is None else first == NONE
    return Agreement(out, clean, eps)


def outputs_agree(a: torch.Tensor, b: torch.Tensor, agreement: Agreement, atol: float) -> bool:
    """Outputs (T, B, K) of the two computations equal within atol on the clean samples (False
    when no sample is clean: nothing compared is no agreement)."""
    clean = agreement.clean.to(a.device)
    return bool(clean.any()) and bool(torch.allclose(a[:, clean].double(), b[:, clean].double(), rtol=0, atol=atol))
