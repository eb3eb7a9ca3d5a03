"""Where a deployed program sits on the chip: each neuron layer cut into core-sized boxes under the
per-core limits of a hardware profile (chip/hardware.py), the cores laid on the mesh, and the
spike traffic between them.

Every layer, the readout's accumulators included, is treated as (C, H, W) ((F,) is (F, 1, 1))
and cut into boxes of cc channels x hh rows x ww columns, the same for the whole layer: the box
that needs the fewest cores while every core keeps, in the worst case, to

    neurons             cc * hh * ww                                   <= neurons_per_core
    input axons         sum over input synapses of the distinct source neurons reaching the box
                        (a conv: C_in x receptive rows x receptive columns; dense: F_in;
                        sparse: the sources with a nonzero weight into the box)
                                                                       <= input_axons
    synaptic memory     sum over input synapses of stored weights x their bit width
                        (a conv stores one kernel per core where the chip shares conv weights,
                        else one per neuron, border taps excluded; dense: rows x F_in;
                        sparse: the box's nonzero weights)
                                                                       <= synaptic_memory_bits

Synapses are structural, as Lava's Dense and Conv hold them (zero weights stored and visited);
Lava's Sparse stores and visits its nonzero weights only (the index a sparse format stores beside
each weight is not counted: no published per-synapse figure).  For a box of a sparse layer the
worst case over boxes is the most nonzeros any box of that size receives (axons: at most that
and F_in) when the layer is flat, else all its nonzeros; each placed core is then counted exactly.
A weight's bit width is what its integers need (sign included).  Output axons (a core's
core-to-core fan-out edges: for each of its neurons, the cores that neuron's synapses reach)
are checked once all layers are cut.  The host's input currents are not counted as axons.  A
layer that no box fits is cut by the box that breaks its limits least and named, with the limit
and the figures, in `Mapping.violations`: never placed silently.

Cores are numbered layer by layer in topological order, `cores_per_tile` to a tile, tiles row
by row on each chip's mesh, chips side by side east-west; a spike from one core to another
crosses |dx| east-west and |dy| north-south tile hops.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from spikefold.chip.hardware import Profile
from spikefold.chip.program import Program
from spikefold.chip.tiling import (LIMITS, PROFILE_FIELD, Geometry, choose_tile, core_use, membership,
                                   nonzero, shape3, support)


@dataclass(frozen=True)
class Core:
    index: int
    layer: str
    box: tuple            # (c0, c1, h0, h1, w0, w1) in the layer's (C, H, W)
    chip: int
    x: int                # tile column on the (multi-chip) mesh
    y: int                # tile row
    use: dict             # limit -> amount this core uses

    @property
    def neurons(self) -> int:
        c0, c1, h0, h1, w0, w1 = self.box
        return (c1 - c0) * (h1 - h0) * (w1 - w0)


@dataclass(frozen=True)
class Mapping:
    profile: Profile
    cores: tuple
    layers: dict          # layer -> {"shape", "tile": (cc, hh, ww), "cores": [indices]}
    inputs: dict          # layer -> [synapse names into it]
    synapses: dict        # name -> SynapseLayer (the program's, readout ones included)
    violations: tuple = field(default_factory=tuple)

    @property
    def chips(self) -> int:
        return max(c.chip for c in self.cores) + 1 if self.cores else 0

    @property
    def tiles(self) -> int:
        return math.ceil(len(self.cores) / self.profile["cores_per_tile"])

    def utilisation(self) -> dict:
        """layer -> limit -> the highest fraction of the limit any of its cores uses."""
        out = {}
        for name, l in self.layers.items():
            out[name] = {k: max(self.cores[i].use[k] for i in l["cores"]) / self.profile[PROFILE_FIELD[k]]
                         for k in LIMITS}
        return out

    def summary(self) -> dict:
        return {"profile": self.profile.name, "cores": len(self.cores), "chips": self.chips,
                "tiles": self.tiles,
                "layers": {n: {"shape": list(l["shape"]), "tile": list(l["tile"]), "cores": len(l["cores"]),
                               "utilisation": self.utilisation()[n]} for n, l in self.layers.items()},
                "violations": list(self.violations)}

    # --- spike traffic -------------------------------------------------------------------
    def traffic(self, syn: str, fired: np.ndarray) -> tuple[np.ndarray, sparse.coo_matrix]:
        """Given fired (the source layer's spike count per neuron, any float array of its shape):
        synaptic events delivered into each destination core (n_dst,), and messages, one per
        spike and destination core it reaches, from each source core to each destination core
        (sparse, n_src x n_dst; indices into the layers' core lists)."""
        s = self.synapses[syn]
        src, dst = self.layers[s.src], self.layers[s.dst]
        n_src, n_dst = len(src["cores"]), len(dst["cores"])
        dst_boxes = [self.cores[i].box for i in dst["cores"]]
        if s.kind == "dense":           # every source neuron reaches every row of every core
            f3 = np.asarray(fired, np.float64).reshape(src["shape"])
            totals = np.array([f3[b[0]:b[1], b[2]:b[3], b[4]:b[5]].sum() for b in
                               (self.cores[i].box for i in src["cores"])])
            rows = np.array([b[1] - b[0] for b in dst_boxes], np.float64)
            i, j = np.meshgrid(np.arange(n_src), np.arange(n_dst), indexing="ij")
            return rows * f3.sum(), sparse.coo_matrix((np.repeat(totals, n_dst), (i.ravel(), j.ravel())),
                                                      shape=(n_src, n_dst))
        if s.kind == "sparse":          # a source neuron reaches the cores holding its nonzero weights
            f = np.asarray(fired, np.float64).reshape(-1)
            per = membership(s.out_shape, dst_boxes) @ nonzero(s)              # (n_dst, F_in) weights
            reach = (per > 0).astype(np.float64)
            src_of = membership(s.in_shape, [self.cores[i].box for i in src["cores"]])
            return per @ f, sparse.coo_matrix(src_of.multiply(f[None, :]) @ reach.T)
        f3 = np.asarray(fired, np.float64).reshape(shape3(s.in_shape))
        geo = Geometry(s)
        events = np.empty(n_dst)
        ranges = np.zeros((n_dst, 4), np.int64)
        fsum = f3.sum(0)
        for j, b in enumerate(dst_boxes):
            ch, cw = geo.counts(b)
            events[j] = (b[1] - b[0]) * float(ch @ fsum @ cw)
            ranges[j] = (*support(ch), *support(cw))
        return events, _grid_sums(f3, src["tile"], ranges)


def _grid_sums(f3: np.ndarray, tile: tuple, ranges: np.ndarray, block: int = 256) -> sparse.coo_matrix:
    """(n_src, n_dst) sparse: the sum of f3 over each source core (the layer's regular grid of
    tile = (cc, hh, ww) boxes, numbered channel group, row, column) intersected with each
    destination core's receptive rectangle ranges[j] = (r0, r1, c0, c1) (all channels: a conv
    reads every input channel).  Only the source tiles a rectangle overlaps are visited."""
    C, H, W = f3.shape
    cc, hh, ww = tile
    ncg, nh, nw = -(-C // cc), -(-H // hh), -(-W // ww)
    integ = np.zeros((ncg, H + 1, W + 1))
    integ[:, 1:, 1:] = np.add.reduceat(f3, np.arange(0, C, cc), axis=0).cumsum(1).cumsum(2)
    kh = int(max(1, (-(-ranges[:, 1] // hh) - ranges[:, 0] // hh).max()))
    kw = int(max(1, (-(-ranges[:, 3] // ww) - ranges[:, 2] // ww).max()))
    rows, cols, vals = [], [], []
    for lo in range(0, len(ranges), block):
        r = ranges[lo:lo + block]
        ti = r[:, :1] // hh + np.arange(kh)                       # (n, kh) source row tiles
        tj = r[:, 2:3] // ww + np.arange(kw)
        a = np.clip(np.maximum(ti * hh, r[:, :1]), 0, H)
        b = np.clip(np.minimum((ti + 1) * hh, r[:, 1:2]), 0, H)
        c = np.clip(np.maximum(tj * ww, r[:, 2:3]), 0, W)
        d = np.clip(np.minimum((tj + 1) * ww, r[:, 3:4]), 0, W)
        ok = ((a < b) & (ti < nh))[:, :, None] & ((c < d) & (tj < nw))[:, None, :]      # (n, kh, kw)
        A, B, Cc, D = a[:, :, None], b[:, :, None], c[:, None, :], d[:, None, :]
        v = integ[:, B, D] - integ[:, A, D] - integ[:, B, Cc] + integ[:, A, Cc]           # (ncg, n, kh, kw)
        src = (np.arange(ncg)[:, None, None, None] * nh + ti[None, :, :, None]) * nw + tj[None, :, None, :]
        dst = np.broadcast_to(np.arange(lo, lo + len(r))[None, :, None, None], v.shape)
        keep = np.broadcast_to(ok[None], v.shape) & (v != 0)
        rows.append(src[keep]), cols.append(dst[keep]), vals.append(v[keep])
    n_dst = len(ranges)
    return sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(ncg * nh * nw, n_dst))


def map_program(program: Program, profile: Profile, rounds: int = 8) -> Mapping:
    """Cut, number and place every layer of `program` on `profile`'s cores.  A layer whose cores
    send more output axons than a core holds is cut again into smaller cores (its neuron cap
    halved), up to `rounds` times and while that lowers the excess; what still breaks a limit
    is named in `violations`."""
    cap: dict = {}
    m, crowded = _place(program, profile, cap)
    for _ in range(rounds):
        if not crowded:
            break
        trial = dict(cap)
        for name in crowded:
            most = max(m.cores[i].neurons for i in m.layers[name]["cores"])
            trial[name] = max(1, most // 2)
        m2, crowded2 = _place(program, profile, trial)
        if _excess(m2) >= _excess(m):          # smaller cores no longer help: keep what we had
            break
        m, crowded, cap = m2, crowded2, trial
    return m


def _excess(m: Mapping) -> float:
    """How far the mapping's cores exceed the output-axon limit, in all."""
    limit = m.profile["output_axons"]
    return sum(max(0, c.use["output_axons"] - limit) for c in m.cores) / limit


def _place(program: Program, profile: Profile, cap: dict) -> tuple[Mapping, list]:
    shapes = {name: shape3(l.shape) for name, l in program.neurons.items()}
    ro = [program.synapses[r] for r in program.readout]
    shapes["readout"] = shape3(ro[0].out_shape)
    order = sorted(program.neurons, key=lambda n: program.neurons[n].start) + ["readout"]
    inputs = {n: [k for k, s in program.synapses.items() if s.dst == n] for n in order}
    cpc, cpt, tx = (int(profile[k]) for k in ("cores_per_chip", "cores_per_tile", "mesh_tiles_x"))
    cores, layers, violations = [], {}, []
    for name in order:
        ins = [program.synapses[k] for k in inputs[name]]
        src_neurons = {s: max(cores[i].neurons for i in layers[s.src]["cores"]) for s in ins if s.src in layers}
        tile, broken = choose_tile(shapes[name], ins, profile, src_neurons, cap.get(name, math.inf))
        violations += [f"layer {name} {tuple(shapes[name])}: {b}" for b in broken]
        C, H, W = shapes[name]
        idx = []
        for c0 in range(0, C, tile[0]):
            for h0 in range(0, H, tile[1]):
                for w0 in range(0, W, tile[2]):
                    box = (c0, min(C, c0 + tile[0]), h0, min(H, h0 + tile[1]), w0, min(W, w0 + tile[2]))
                    i = len(cores)
                    chip, local = divmod(i, cpc)
                    t = local // cpt
                    cores.append(Core(i, name, box, chip, chip * tx + t % tx, t // tx, core_use(box, ins, profile)))
                    idx.append(i)
        layers[name] = {"shape": shapes[name], "tile": tile, "cores": idx}
    m = Mapping(profile, tuple(cores), layers, inputs, dict(program.synapses), ())
    for syn, s in program.synapses.items():    # output axons: one edge per neuron and core it reaches
        ones = np.ones(shape3(s.in_shape) if s.kind == "conv" else int(np.prod(s.in_shape)))
        edges = np.asarray(m.traffic(syn, ones)[1].sum(1)).ravel()
        for i, e in zip(layers[s.src]["cores"], edges):
            cores[i].use["output_axons"] += int(e)
    limit, crowded = profile["output_axons"], []
    for name, l in layers.items():
        worst = max(cores[i].use["output_axons"] for i in l["cores"])
        if worst > limit:
            crowded.append(name)
            violations.append(f"layer {name} {tuple(shapes[name])}: output axons: needs {worst:,} per core, "
                              f"over the limit of {limit:,.0f}")
    return Mapping(profile, tuple(cores), layers, inputs, dict(program.synapses), tuple(violations)), crowded


def describe(m: Mapping) -> str:
    """The mapping as a table (what `python deploy/map.py` prints)."""
    u = m.utilisation()
    lines = [f"{m.profile.label}: {len(m.cores)} cores on {m.chips} chip(s), {m.tiles} tiles",
             f"{'layer':<28} {'shape':<16} {'box (c,h,w)':<14} {'cores':>5}   max use per core: "
             f"neurons / input axons / synaptic memory / output axons"]
    for name, l in m.layers.items():
        use = " / ".join(f"{100 * u[name][k]:.0f}%" for k in LIMITS)
        lines.append(f"{name:<28} {str(tuple(l['shape'])):<16} {str(tuple(l['tile'])):<14} "
                     f"{len(l['cores']):>5}   {use}")
    lines += [f"cannot be placed as it is: {v}" for v in m.violations]
    assumed = m.profile.assumptions()
    if assumed:
        lines.append("assumed figures: " + "; ".join(f"{k} = {f.value:g} {f.unit} ({f.source})"
                                                    for k, f in assumed.items()
                                                    if k in ("neurons_per_core", "input_axons", "output_axons",
                                                             "synaptic_memory_bits", "share_conv_weights",
                                                             "cores_per_tile", "mesh_tiles_x", "mesh_tiles_y")))
    return "\n".join(lines)
