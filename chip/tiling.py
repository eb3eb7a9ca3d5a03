"""How one layer is cut into core-sized boxes: the (cc, hh, ww) box needing the fewest cores under a
profile's per-core limits, and what a box uses (chip/placement.py states the limits and lays
the boxes on the mesh).  Shapes are (C, H, W), flat layers (F, 1, 1); bits are weight bits."""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import sparse

from spikefold.chip.hardware import Profile
from spikefold.chip.program import SynapseLayer

LIMITS = ("neurons", "input_axons", "synapse_bits", "output_axons")
PROFILE_FIELD = {"neurons": "neurons_per_core", "input_axons": "input_axons",
                 "synapse_bits": "synaptic_memory_bits", "output_axons": "output_axons"}


def shape3(shape: tuple) -> tuple:
    return tuple(shape) if len(shape) == 3 else (int(np.prod(shape)), 1, 1)


def weight_bits(w: np.ndarray) -> int:
    """Bits a weight of this layer needs in a signed or unsigned format: magnitude + sign."""
    top = int(np.abs(w).max()) if w.size else 0
    return max(1, top.bit_length()) + int(bool((w < 0).any()))


@functools.lru_cache(maxsize=256)
def nonzero(s: SynapseLayer) -> sparse.csr_matrix:
    """Where a sparse layer's weights are nonzero, (F_out, F_in) 0/1 in C, H, W order, once per layer."""
    return sparse.csr_matrix((s.weight != 0).astype(np.float64))


@functools.lru_cache(maxsize=256)
def _row_prefix(s: SynapseLayer) -> np.ndarray:
    """0, then the running count of a sparse layer's nonzero weights over its output neurons."""
    return np.concatenate([[0], np.cumsum(np.diff(nonzero(s).indptr))])


@functools.lru_cache(maxsize=256)
def _widest_fan_out(s: SynapseLayer) -> int:
    """The most nonzero weights leaving one source neuron of a sparse layer."""
    return int(np.diff(nonzero(s).tocsc().indptr).max(initial=0))


def _most_per_box(s: SynapseLayer, cc: int) -> int:
    """The most nonzero weights any box of cc consecutive output neurons of a flat layer receives."""
    p = _row_prefix(s)
    starts = np.arange(0, len(p) - 1, cc)
    return int((p[np.minimum(starts + cc, len(p) - 1)] - p[starts]).max())


def membership(shape: tuple, boxes: list) -> sparse.csr_matrix:
    """(len(boxes), neurons) 0/1: which neurons (C, H, W order) each (c0, c1, h0, h1, w0, w1) box holds."""
    idx = np.arange(int(np.prod(shape))).reshape(shape3(shape))
    cols = [idx[b[0]:b[1], b[2]:b[3], b[4]:b[5]].ravel() for b in boxes]
    rows = np.repeat(np.arange(len(boxes)), [len(c) for c in cols])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, np.concatenate(cols) if cols else rows)),
                             shape=(len(boxes), idx.size))


@functools.lru_cache(maxsize=4096)
def layer_bits(s: SynapseLayer) -> int:
    """weight_bits of a synapse layer, once per layer (a SynapseLayer hashes by identity)."""
    return weight_bits(s.weight)



class Geometry:
    """A conv synapse's receptive fields: for output rows [h0, h1), how many of them each input row
    feeds (likewise columns)."""

    def __init__(self, s: SynapseLayer):
        self.s = s
        self.kh, self.kw = s.weight.shape[2:]
        self.ci = s.in_shape[0]

    def _count(self, lo: int, hi: int, n_in: int, stride: int, pad: int, k: int) -> np.ndarray:
        starts = np.arange(lo, hi) * stride - pad
        d = np.zeros(n_in + 1)
        np.add.at(d, np.clip(starts, 0, n_in), 1)
        np.add.at(d, np.clip(starts + k, 0, n_in), -1)
        return np.cumsum(d)[:n_in]

    def counts(self, box: tuple) -> tuple[np.ndarray, np.ndarray]:
        _, _, h0, h1, w0, w1 = box
        s = self.s
        return (self._count(h0, h1, s.in_shape[1], s.stride[0], s.padding[0], self.kh),
                self._count(w0, w1, s.in_shape[2], s.stride[1], s.padding[1], self.kw))


def support(c: np.ndarray) -> tuple[int, int]:
    nz = np.flatnonzero(c)
    return (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)


# --- cutting layers into cores ---------------------------------------------------------------

def _needs(shape: tuple, ins: list, profile: Profile, cc: int, hh: np.ndarray, ww: np.ndarray,
           src_neurons: dict, cap: float = math.inf) -> dict:
    """Worst-case use of a (cc, hh, ww) box, broadcast over the hh, ww grids; and the output axons
    its cut costs the source layers' fullest cores (src_neurons: synapse -> neurons in that core):
    each source neuron sends one edge to every core its synapses reach, that is to every channel
    group of this layer and to each spatial tile its outputs overlap."""
    C, H, W = shape
    neurons = cc * hh * ww
    axons = np.zeros(np.broadcast(hh, ww).shape)
    bits = np.zeros_like(axons)
    edges = np.zeros_like(axons)
    share = bool(profile["share_conv_weights"])
    groups = math.ceil(C / cc)
    for s in ins:
        b = layer_bits(s)
        if s.kind == "dense":
            fin = int(np.prod(s.in_shape))
            axons = axons + fin
            bits = bits + neurons * fin * b
            edges = np.maximum(edges, src_neurons.get(s, 0) * groups * np.ceil(H / hh) * np.ceil(W / ww))
        elif s.kind == "sparse":
            fin, nnz = int(np.prod(s.in_shape)), int(_row_prefix(s)[-1])
            most = _most_per_box(s, cc) if H == W == 1 else np.minimum(neurons * fin, nnz)
            axons = axons + np.minimum(fin, most)
            bits = bits + most * b
            reach = _widest_fan_out(s)
            edges = np.maximum(edges, src_neurons.get(s, 0) *
                               np.minimum(reach, groups * np.ceil(H / hh) * np.ceil(W / ww)))
        else:
            ci, hin, win = s.in_shape
            kh, kw = s.weight.shape[2:]
            rh = np.minimum(hin, (hh - 1) * s.stride[0] + kh)
            rw = np.minimum(win, (ww - 1) * s.stride[1] + kw)
            axons = axons + ci * rh * rw
            bits = bits + (cc * ci * kh * kw * b if share else neurons * ci * kh * kw * b)
            oh = np.minimum(np.ceil(H / hh), np.ceil((math.ceil(kh / s.stride[0]) - 1) / hh) + 1)
            ow = np.minimum(np.ceil(W / ww), np.ceil((math.ceil(kw / s.stride[1]) - 1) / ww) + 1)
            edges = np.maximum(edges, src_neurons.get(s, 0) * groups * oh * ow)
    # a neuron cap below the core's (map_program's repair of output axons) counts as the core's limit
    neurons = neurons * max(1.0, profile["neurons_per_core"] / cap)
    return {"neurons": neurons + 0 * axons, "input_axons": axons, "synapse_bits": bits, "output_axons": edges}


def choose_tile(shape: tuple, ins: list, profile: Profile, src_neurons: dict | None = None,
                cap: float = math.inf) -> tuple[tuple, list]:
    """The (cc, hh, ww) box needing the fewest cores within the limits (ties: fewer input axons in
    all).  If none fits, output axons give way first (the box that fits this layer's own limits
    and costs its sources the fewest edges); then the limits no box can keep (a fan-in beyond the
    axon limit even for one neuron, say) are held at the least any box needs, the others kept,
    and the fewest cores taken.  The broken limits are returned.  Output axons are estimated for each source
    layer's fullest core; the exact count is checked once every layer is cut (`map_program`)."""
    src_neurons = src_neurons or {}
    C, H, W = shape
    hh, ww = np.meshgrid(np.arange(1, H + 1), np.arange(1, W + 1), indexing="ij")
    own = ("neurons", "input_axons", "synapse_bits")

    def sweep():
        for cc in range(1, C + 1):
            need = _needs(shape, ins, profile, cc, hh, ww, src_neurons, cap)
            frac = {k: need[k] / profile[PROFILE_FIELD[k]] for k in need}
            yield cc, need, frac, math.ceil(C / cc) * np.ceil(H / hh) * np.ceil(W / ww)

    boxes = list(sweep())                         # every box once (a flat layer of F neurons: F of them)
    # what no box avoids: a limit exceeded even by the box using least of it
    floor = {k: min(float(frac[k].min()) for _, _, frac, _ in boxes) for k in own}
    bound = {k: max(1.0, floor[k] * (1 + 1e-9)) for k in own}
    best = {}                                     # pass -> (key, tile)
    for cc, need, frac, cores in boxes:
        fits_own = np.all([frac[k] <= 1 for k in own], axis=0)
        fits_bound = np.all([frac[k] <= bound[k] for k in own], axis=0)
        keys = {0: np.where(fits_own & (frac["output_axons"] <= 1), cores * 1e12 + cores * need["input_axons"], np.inf),
                1: np.where(fits_own, frac["output_axons"] * 1e12 + cores, np.inf),
                2: np.where(fits_bound, cores * 1e12 + cores * need["input_axons"], np.inf)}
        for k, key in keys.items():
            i = np.unravel_index(np.argmin(key), key.shape)
            if np.isfinite(key[i]) and (k not in best or key[i] < best[k][0]):
                best[k] = (key[i], (cc, int(hh[i]), int(ww[i])))
    tile = best[min(best)][1]
    need = _needs(shape, ins, profile, tile[0], np.array(tile[1]), np.array(tile[2]), src_neurons, cap)
    broken = [f"{k.replace('_', ' ')}: needs {float(need[k]):,.0f} per core, over the limit of "
              f"{profile[PROFILE_FIELD[k]]:,.0f}" for k in own if need[k] > profile[PROFILE_FIELD[k]]]
    return tile, broken


def core_use(box: tuple, ins: list, profile: Profile) -> dict:
    """Exact use of one box (border boxes and border taps included)."""
    c0, c1, h0, h1, w0, w1 = box
    cc, neurons = c1 - c0, (c1 - c0) * (h1 - h0) * (w1 - w0)
    axons = bits = 0
    share = bool(profile["share_conv_weights"])
    for s in ins:
        b = layer_bits(s)
        if s.kind == "dense":
            fin = int(np.prod(s.in_shape))
            axons += fin
            bits += neurons * fin * b
        elif s.kind == "sparse":
            into = (membership(s.out_shape, [box]) @ nonzero(s)).tocsr()
            axons += into.nnz
            bits += int(into.sum()) * b
        else:
            ch, cw = Geometry(s).counts(box)
            ci, kh, kw = s.in_shape[0], *s.weight.shape[2:]
            axons += ci * int((ch > 0).sum()) * int((cw > 0).sum())
            bits += (cc * ci * kh * kw if share else cc * ci * float(ch.sum()) * float(cw.sum())) * b
    return {"neurons": neurons, "input_axons": axons, "synapse_bits": bits, "output_axons": 0}
