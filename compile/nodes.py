"""The compiler's graph nodes: small frozen dataclasses, each stating its equation.

Arrays are float64 numpy arrays (folding is done in double precision and only
rounded to float32 when a network runs).  Shapes exclude time and batch:
`shape` is the output shape of one sample at one timestep, (C, H, W) or (F,).
A node's input is the sum of the outputs of all nodes with an edge into it
(NIR's fan-in rule), so a residual addition is two edges into one neuron.

Before lowering a graph may hold nodes NIR has no name for (BatchNorm,
StaaLIF, FstaLIF, SMA); the passes in `compile.passes` remove them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Input:
    """x[t] = the network input at step t (pixels, or event frames).  shape: (C, H, W)."""
    shape: tuple


@dataclass(frozen=True, eq=False)
class Conv2d:
    """y = conv2d(x, weight, stride, padding) + bias.  weight (C_out, C_in, kh, kw), bias (C_out,)."""
    weight: np.ndarray
    bias: np.ndarray
    stride: tuple
    padding: tuple
    shape: tuple
    source: str = ""


@dataclass(frozen=True, eq=False)
class Linear:
    """y[t] = weight @ x[t - delay] + bias [t >= bias_delay] (x before step 0 is 0).  weight (F_out,
    F_in), bias (F_out,); delay in steps (NIR's Delay node, an axonal delay on the chip);
    bias_delay: the steps a Delay after the layer holds its bias back too."""
    weight: np.ndarray
    bias: np.ndarray
    shape: tuple
    source: str = ""
    delay: int = 0
    bias_delay: int = 0


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel (C,) (inference statistics)."""
    mean: np.ndarray
    var: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float
    shape: tuple
    source: str = ""


@dataclass(frozen=True, eq=False)
class AvgPool2d:
    """y = mean of x over non-overlapping kernel x kernel windows (stride = kernel, no padding)."""
    kernel: tuple
    shape: tuple
    source: str = ""


@dataclass(frozen=True, eq=False)
class Flatten:
    """y = x reshaped to (C*H*W,) in C, H, W order."""
    shape: tuple
    source: str = ""


@dataclass(frozen=True, eq=False)
class LIF:
    """Discrete leaky integrate-and-fire, per channel c (arrays of shape (C,)):

        v[t] = leak[c] * v[t-1]' + gain[c] * I[t]
        s[t] = 1 if v[t] >= v_th else 0;   v[t]' = v[t] * (1 - s[t])   (hard reset to 0)

    leak and gain are STAA-SNN's M and N (eq. 1-6): 1 - 1/tau and 1/tau for a
    plain LIF; leak 1 is an integrate-and-fire neuron.  v_th is in the units of v: a
    float, or an array of the neuron shape when folding left a per-neuron threshold (a
    static positive gain g on a neuron's whole input is exactly a threshold v_th / g).
    rule: "ge" fires at v >= v_th (spikefold's models, STAA-SNN eq. 2), "gt" at v > v_th
    (NIR's nominal rule and Loihi's, taken for graphs other frameworks wrote).
    syn_leak (C,), when set, gives the neuron a synaptic current (NIR's CubaLIF, Loihi's u):

        i[t] = syn_leak[c] * i[t-1] + I[t];   v[t] = leak[c] * v[t-1]' + gain[c] * i[t]

    the current is not reset by a spike.
    bias (C,) or of the neuron shape, when set, is a constant added to v every step, and v0 (the
    same) the potential before the first step (0 when unset): NIR's resting potential v_leak and reset potential v_reset,
    run in the frame w = v - v_reset where the reset is to 0 (compile/nir_read.py):

        v[t] = leak[c] * v[t-1]' + gain[c] * I[t] + bias[c];   v[-1] = v0[c]
    """
    leak: np.ndarray
    gain: np.ndarray
    v_th: float | np.ndarray
    shape: tuple
    source: str = ""
    rule: str = "ge"
    syn_leak: np.ndarray | None = None
    bias: np.ndarray | None = None
    v0: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class LI:
    """Leaky integrator, a non-spiking readout (NIR's LI), per channel (C,):

        v[t] = leak[c] * v[t-1] + gain[c] * I[t] + bias[c];   output v[t]

    bias: NIR's resting potential, (dt/tau) v_leak (None: 0).
    """
    leak: np.ndarray
    gain: np.ndarray
    shape: tuple
    source: str = ""
    bias: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class StaaLIF:
    """STAA-LIF (eq. 11-14) while parts of its attention are still live.

        X[t] = I[t] + pos[t]                                   (if pos is not None)
        U[t] = gain * GC1(X[t]) + leak * GC2(v[t-1]') + drive  (GC live if gc)
        v[t] = SA(U[t])                                        (SA live if sa)
        spike and reset as LIF

    GC and SA are functions of the data, computed by the checkpoint's module at
    `source`; the calibrated passes replace them with constants measured there.
    drive (C,) is the constant the folded terms leave behind.  pos: (T, C).
    """
    leak: np.ndarray
    gain: np.ndarray
    v_th: float
    shape: tuple
    pos: np.ndarray | None
    gc: bool
    sa: bool
    drive: np.ndarray
    source: str = ""


@dataclass(frozen=True, eq=False)
class FstaLIF:
    """FSTA (models/fsta.py) on the input currents, then LIF, while the attention is live:

        v[t] = leak * v[t-1]' + gain * g[t, h, w](I) * I[t]      g: FSTA's input-dependent gain

    `fold_fsta` replaces g by a constant and moves it into a per-neuron threshold.
    """
    leak: np.ndarray
    gain: np.ndarray
    v_th: float
    shape: tuple
    source: str = ""


@dataclass(frozen=True, eq=False)
class SMA:
    """conv -> SMA -> BatchNorm of one SMA unit (models/sma.py) while its attention is live; the
    block's LIF follows as its own node.  Input x (C_in, H_in, W_in) spikes; output (C, H, W):

        X      = conv2d(x, weight, stride, padding) + bias                      real-valued
        S_i[t] = LIF_i( branch_scale[i] * conv2d(X[t], branch_weights[i], pad k_i // 2)
                        + branch_shift[i] )          (branch BatchNorm folded; LIF_i: leak[i],
                                                      gain[i], v_th[i], hard reset, rule "ge")
        y[t]   = bn_scale * sum_i A_i[t](S) * S_i[t] + bn_shift                  per channel

    A (branches, T, B, C): SMA's attention, a function of the branch spikes computed by the
    checkpoint's module at `source`; `fold_sma` replaces it by constants measured there.
    Per-channel arrays are (C,), per-branch ones (branches, C); in_shape is x's (C_in, H_in, W_in).
    """
    weight: np.ndarray
    bias: np.ndarray
    stride: tuple
    padding: tuple
    branch_weights: tuple          # (C, C, k_i, k_i) each
    branch_scale: np.ndarray
    branch_shift: np.ndarray
    leak: np.ndarray
    gain: np.ndarray
    v_th: np.ndarray               # (branches,)
    bn_scale: np.ndarray
    bn_shift: np.ndarray
    in_shape: tuple
    shape: tuple
    source: str = ""


@dataclass(frozen=True, eq=False)
class Output:
    """The network's output at each step (logits, (K,)); the prediction is the argmax of their mean over T."""
    shape: tuple


SYNAPTIC = (Conv2d, Linear)
NEURONS = (LIF, StaaLIF, FstaLIF)


def per_channel(values: np.ndarray, shape: tuple) -> np.ndarray:
    """Broadcast a (C,) array to the full neuron shape (C, H, W) or (C,); an array of the full
    shape (a LIF's per-neuron bias or v0) is returned as it is."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape == tuple(shape):
        return values.copy()
    return np.broadcast_to(values.reshape(-1, *([1] * (len(shape) - 1))), shape).copy()
