"""Lava's rules for integer synaptic weights (lava/utils/weightutils.py, PyDenseModelBitAcc).

Dense, on its first step: determine_sign_mode, clip_weights(num_bits=8) to [0, 255],
[-255, 0] or [-256, 255], then truncate_weights(num_weight_bits=8), which drops the
least significant bit of mixed-sign weights.  Conv applies neither.
"""
from __future__ import annotations

import numpy as np


def sign_mode(w: np.ndarray) -> str:
    """Lava's determine_sign_mode: excitatory, inhibitory or mixed."""
    if w.min() >= 0:
        return "excitatory"
    if w.max() <= 0:
        return "inhibitory"
    return "mixed"


def lava_weights(w: np.ndarray) -> np.ndarray:
    """What Lava's Dense does to integer weights on its first step: clip_weights(num_bits=8)
    then truncate_weights(num_weight_bits=8) under the matrix's sign mode."""
    mode = sign_mode(w)
    w = w.astype(np.int64)
    if mode == "excitatory":
        return np.clip(w, 0, 255)
    if mode == "inhibitory":
        return -np.clip(-w, 0, 255)
    return (np.clip(w, -256, 255) >> 1) << 1


def weight_bound(w: np.ndarray) -> int:
    return 254 if sign_mode(w) == "mixed" else 255
