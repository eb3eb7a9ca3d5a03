"""The fields of a lava-dl netx HDF5 file, read and checked as `lava.lib.dl.netx.hdf5.Network`
reads them, and the weights Lava's synapses end up holding (for deploy/netx_read.py).

lava-dl 0.6.0 reads a field through `netx.utils.NetDict`: `type` as an ASCII string (a scalar or
the first element of an array), shapes and neuron parameters as stored, and `weight`,
`weight_rec` and `bias` through `.astype(int)` (which would truncate non-integers toward zero;
spikefold refuses them instead, as no quantised export writes them).  Every refusal is a
NetxFormatError naming the file, the layer and the field.
"""
from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from spikefold.chip.formats import INT32, VTH_SHIFT


class NetxFormatError(ValueError):
    """str(e): one line naming the file, the layer and the field at fault, and why."""


@dataclass(frozen=True)
class Where:
    """A place in a netx file, for error messages: the file and the layer group (`layer/3`)."""
    path: str
    layer: str = ""

    def error(self, field: str, why: str) -> NetxFormatError:
        at = "/".join(x for x in (self.layer, field) if x)
        return NetxFormatError(f"{self.path}: {at}: {why}" if at else f"{self.path}: {why}")


def field(group: h5py.Group, key: str, where: Where):
    """The raw value of dataset `key` in `group` (numpy scalar or array), or NetxFormatError."""
    if key not in group:
        raise where.error(key, "missing")
    d = group[key]
    if not isinstance(d, h5py.Dataset):
        raise where.error(key, "is a group, not a dataset")
    try:
        return d[()]
    except (OSError, ValueError) as e:            # a truncated or corrupt file's data
        raise where.error(key, f"unreadable ({e})") from None


def text(group: h5py.Group, key: str, where: Where) -> str:
    """A string field as NetDict reads it: a scalar, or the first element of an array."""
    v = field(group, key, where)
    if isinstance(v, np.ndarray):
        if v.size == 0:
            raise where.error(key, "empty")
        v = v.flat[0]
    if not isinstance(v, (bytes, str)):
        raise where.error(key, f"is not a string ({type(v).__name__})")
    return v.decode("ascii") if isinstance(v, bytes) else v


def integers(v, key: str, where: Where, shape: tuple | None = None, lo: int | None = None,
             hi: int | None = None) -> np.ndarray:
    """v as int64, refusing NaN, infinities, non-integers, a `shape` other than given and values
    outside [lo, hi]."""
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        raise where.error(key, f"is not numeric ({a.dtype})")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)):
            raise where.error(key, "holds NaN or infinite values")
        if not np.all(a == np.round(a)):
            raise where.error(key, "holds non-integer values (a netx file holds the chip's integers; "
                                   "lava-dl would truncate them)")
    if shape is not None and a.shape != tuple(shape):
        raise where.error(key, f"has shape {a.shape}, expected {tuple(shape)}")
    a = a.astype(np.int64)
    if a.size and ((lo is not None and a.min() < lo) or (hi is not None and a.max() > hi)):
        raise where.error(key, f"values {a.min()}..{a.max()} outside {lo}..{hi}")
    return a


def per_neuron(v, key: str, where: Where, shape: tuple, lo: int, hi: int) -> np.ndarray:
    """A neuron parameter (a scalar, or one value per neuron in Lava's (W, H, C) order, as Lava's
    LIF takes it) as int64 of spikefold's `shape` ((C, H, W) or (F,))."""
    a = integers(v, key, where, lo=lo, hi=hi)
    if a.ndim == 0:
        return np.full(shape, int(a), np.int64)
    if a.shape != tuple(shape[::-1]):
        raise where.error(key, f"has shape {a.shape}, expected a scalar or {tuple(shape[::-1])} (W, H, C)")
    return np.ascontiguousarray(a.transpose(*range(a.ndim)[::-1]))


def bias(v, where: Where, shape: tuple) -> np.ndarray:
    """A block's `bias` as netx's AbstractBlock._neuron broadcasts it: for a flat layer as stored
    (one per neuron), else one per neuron in (W, H, C) order or one per channel; as a 13-bit
    mantissa (Loihi's, and what keeps Lava's int32 bias_mant << 6 exact), in spikefold's shape."""
    a = integers(v, "bias", where, lo=-(1 << 12), hi=(1 << 12) - 1)
    if len(shape) == 1:
        if a.size != shape[0]:
            raise where.error("bias", f"has {a.size} values for {shape[0]} neurons")
        return a.reshape(shape)
    if a.shape == tuple(shape[::-1]):
        return np.ascontiguousarray(a.transpose(2, 1, 0))
    if a.shape == (shape[0],):
        return np.broadcast_to(a[:, None, None], shape).copy()
    raise where.error("bias", f"has shape {a.shape}: neither ({shape[0]},) per channel nor {tuple(shape[::-1])}")


def vth_range() -> tuple[int, int]:
    """vThMant's range: Lava keeps vth << 6 in int32 (17 bits on the chip; netx's own default
    for a dense block without neurons, 1 << 17, is one past it and still runs in Lava)."""
    return 0, (INT32 >> VTH_SHIFT) - 1


def netx_weight_bits(w: np.ndarray, where: Where, key: str = "weight") -> tuple[np.ndarray, int, int]:
    """lava.lib.dl.netx.utils.optimize_weight_bits: the weights scaled up to fill 8 bits, their
    bit count and the exponent undoing the scale: (w << s, num_weight_bits, -s).  Its clip of
    mixed weights beyond [-256, 254] is kept; the cases where it computes nothing meaningful
    (all weights zero: log2 of infinity; positive or negative weights beyond 8 bits: a shift by a
    negative count) are refused."""
    w = w.copy()
    hi, lo = int(w.max()), int(w.min())
    if hi > 254 and lo < 0 or lo < -256 and hi > 0:
        w = np.clip(w, -256, 254)                 # netx prints a warning and clips
        hi, lo = int(w.max()), int(w.min())
    if hi == lo == 0:
        raise where.error(key, "all zero (lava-dl's weight scaling divides by the largest weight)")
    if hi < 0:
        scale, signed = -256 / lo, 0
    elif lo >= 0:
        scale, signed = 255 / hi, 0
    else:
        scale, signed = min(127 / hi, -128 / lo), 1
    scale_bits = int(np.floor(np.log2(scale))) + signed
    if scale_bits < 0:
        raise where.error(key, f"weights {lo}..{hi} exceed 8 bits of one sign (lava-dl would shift by "
                               f"{scale_bits} bits)")
    n = 8                                          # the low bits every weight leaves zero
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    return w << scale_bits, 8 - scale_bits - (n - signed), -scale_bits


def dense_weights(w: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """What Lava's PyDenseModelBitAcc holds after its first step: clip_weights(num_bits=8) then
    truncate_weights(num_weight_bits) under the matrix's own sign mode (lava.utils.weightutils)."""
    mixed = w.min() < 0 < w.max()
    neg = not mixed and w.max() <= 0 and w.min() < 0
    m = -w if neg else w
    m = np.clip(m, -256 if mixed else 0, 255)
    cut = 8 - num_weight_bits + int(mixed)        # >= 0: netx's num_weight_bits is at most 8 + mixed
    m = (m >> cut) << cut
    return -m if neg else m
