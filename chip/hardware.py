"""The chips spikefold prices a program on, as data: Loihi and Loihi 2, every figure with its unit
and its published source, or marked as an assumption.

A figure no publication gives is still needed to price a network (Loihi 2's per-operation
energies, say).  Such a figure is a `Figure` with `assumed=True` and the assumption written in
`source`; the report lists every assumed figure it used, and `with_overrides` (report.py and
map.py `--chip-param NAME=VALUE`) replaces any figure by the user's own, recorded as theirs.

Sources
    Davies 2018   M. Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip
                  Learning", IEEE Micro 38(1):82-99, 2018.  Capacities: section "Network
                  connectivity architecture", the four mapping constraints (p. 89); energies and
                  times: Table 2, "Loihi pre-silicon performance and energy measurements", value
                  at 0.75 V, from SDF and SPICE simulations "consistent with early post-silicon
                  characterization": minimum energies, maximum times.
    Frady 2020    E. P. Frady et al., "Neuromorphic Nearest-Neighbor Search Using Intel's Pohoiki
                  Springs", NICE 2020: measured static power (Table 1: 3.34 W over a 32-chip board,
                  so 104 mW per chip) and reset energy (Table 2: 0.19 mJ over 32 chips, so
                  5.94 uJ per chip per reset); multi-chip barrier synchronisation (section 4.3).
                  The supply voltage of these measurements is not stated: mixing them with
                  Table 2's 0.75 V figures is a known composition risk, named in the report.
    Intel 2021    Intel Labs, "Taking Neuromorphic Computing to the Next Level with Loihi 2",
                  technology brief, 2021: 128 neuron cores, up to 1 M neurons and 120 M synapses
                  per chip (so 8,192 neurons per core), 192 KB of flexibly allocated memory per
                  core, weights of 1 to 8 bits, Intel 4 process, 31 mm^2; no per-operation
                  energy or time, no static power.
    Orchard 2021  G. Orchard et al., "Efficient Neuromorphic Signal Processing with Loihi 2",
                  IEEE SiPS 2021: architecture and workload measurements, again no per-operation
                  figures.  Shrestha et al. 2023 ("Efficient Video and Audio Processing with
                  Loihi 2", ICASSP 2024) report whole-workload power and latency, not
                  per-operation figures either.  So every Loihi 2 energy and time below is an
                  assumption (Loihi's figure carried over, which is pessimistic if Intel's "up to
                  10x faster" holds), made plain wherever it is used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str
    source: str
    assumed: bool = False


@dataclass(frozen=True)
class Profile:
    """One chip.  Per-core limits, the mesh, per-operation energies (pJ) and times (ns), static
    power; each field a Figure."""
    name: str
    label: str
    cores_per_chip: Figure
    neurons_per_core: Figure
    synaptic_memory_bits: Figure      # per core, for weights stored in a dense format
    input_axons: Figure               # distinct source neurons (axons) feeding one core
    output_axons: Figure              # core-to-core fan-out edges leaving one core
    share_conv_weights: Figure        # 1: a conv layer's kernel is stored once per core
    cores_per_tile: Figure
    mesh_tiles_x: Figure              # tiles per chip, east-west
    mesh_tiles_y: Figure              # tiles per chip, north-south
    synop_pj: Figure
    synop_ns: Figure
    update_active_pj: Figure
    update_inactive_pj: Figure
    update_active_ns: Figure
    update_inactive_ns: Figure
    spike_in_tile_pj: Figure
    spike_in_tile_ns: Figure
    hop_ew_pj: Figure
    hop_ns_pj: Figure
    hop_ew_ns: Figure
    hop_ns_ns: Figure
    barrier_1_tile_ns: Figure
    barrier_32_tiles_ns: Figure
    barrier_256_chips_ns: Figure
    static_mw_per_chip: Figure
    reset_uj_per_chip: Figure
    host_write_pj: Figure             # one host write to a neuron register (bias switching)

    def figures(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, Figure)}

    def __getitem__(self, key: str) -> float:
        return getattr(self, key).value

    def assumptions(self) -> dict:
        return {k: f for k, f in self.figures().items() if f.assumed}

    def with_overrides(self, overrides: dict) -> "Profile":
        """A copy with figures replaced by {name: value}; each marked as the user's."""
        changes = {}
        for key, value in overrides.items():
            if key not in self.figures():
                raise ValueError(f"unknown chip figure {key!r}; choose from {', '.join(self.figures())}")
            f = getattr(self, key)
            changes[key] = Figure(float(value), f.unit, f"set by the user (--chip-param {key}={value})", True)
        return replace(self, **changes)


D18 = "Davies 2018"
T2 = f"{D18}, Table 2 (0.75 V, pre-silicon)"
F20 = "Frady 2020"
INTEL21 = "Intel 2021 Loihi 2 brief"

LOIHI = Profile(
    name="loihi", label="Loihi (Intel, 14 nm, 2018)",
    cores_per_chip=Figure(128, "cores", f"{D18}, p. 86"),
    neurons_per_core=Figure(1024, "compartments", f"{D18}, p. 89, constraint 1"),
    synaptic_memory_bits=Figure(128 * 1024 * 8, "bits", f"{D18}, p. 89, constraint 2 (128 KB)"),
    input_axons=Figure(4096, "axons", f"{D18}, p. 89, constraint 4 (Naxin)"),
    output_axons=Figure(4096, "edges", f"{D18}, p. 89, constraint 3 (Naxout)"),
    share_conv_weights=Figure(0, "bool", "assumed: each synapse stored per target neuron (the "
                              "mapping constraints count synapses per core; no shared-kernel "
                              "format is described in Davies 2018)", True),
    cores_per_tile=Figure(4, "cores", "inferred: 128 cores, and Table 2's barrier figure spans "
                          "1-32 tiles", True),
    mesh_tiles_x=Figure(8, "tiles", "assumed: 32 tiles as 8 x 4 (the mesh's aspect is not published)", True),
    mesh_tiles_y=Figure(4, "tiles", "assumed: 32 tiles as 8 x 4", True),
    synop_pj=Figure(23.6, "pJ", f"{T2}, energy per synaptic spike op (min)"),
    synop_ns=Figure(3.5, "ns", f"{T2}, time per synaptic spike op (max)"),
    update_active_pj=Figure(81.0, "pJ", f"{T2}, energy per neuron update (active)"),
    update_inactive_pj=Figure(52.0, "pJ", f"{T2}, energy per neuron update (inactive)"),
    update_active_ns=Figure(8.4, "ns", f"{T2}, time per neuron update (active)"),
    update_inactive_ns=Figure(5.3, "ns", f"{T2}, time per neuron update (inactive)"),
    spike_in_tile_pj=Figure(1.7, "pJ", f"{T2}, within-tile spike energy"),
    spike_in_tile_ns=Figure(2.1, "ns", f"{T2}, within-tile spike latency"),
    hop_ew_pj=Figure(3.0, "pJ", f"{T2}, energy per tile hop (E-W)"),
    hop_ns_pj=Figure(4.0, "pJ", f"{T2}, energy per tile hop (N-S)"),
    hop_ew_ns=Figure(4.1, "ns", f"{T2}, latency per tile hop (E-W)"),
    hop_ns_ns=Figure(6.5, "ns", f"{T2}, latency per tile hop (N-S)"),
    barrier_1_tile_ns=Figure(113, "ns", f"{T2}, mesh-wide barrier sync time, 1 tile"),
    barrier_32_tiles_ns=Figure(465, "ns", f"{T2}, mesh-wide barrier sync time, 32 tiles"),
    barrier_256_chips_ns=Figure(14300, "ns", f"{F20}, section 4.3, measured, 4 x 64 chips"),
    static_mw_per_chip=Figure(104.4, "mW", f"{F20}, Table 1: 3.34 W static over 32 chips, measured "
                              f"(voltage not stated)"),
    reset_uj_per_chip=Figure(5.94, "uJ", f"{F20}, Table 2: 0.19 mJ reset over 32 chips, measured"),
    host_write_pj=Figure(0.0, "pJ", "assumed 0: no published energy for a host write to a "
                         "neuron register; the writes are counted and shown", True),
)

_L2 = "assumed: Loihi's figure carried over; no per-operation figure for Loihi 2 is published"
LOIHI2 = replace(
    LOIHI, name="loihi2", label="Loihi 2 (Intel 4, 2021)",
    cores_per_chip=Figure(128, "cores", f"{INTEL21}"),
    neurons_per_core=Figure(8192, "neurons", f"{INTEL21}: 1 M neurons over 128 cores"),
    synaptic_memory_bits=Figure(192 * 1024 * 8, "bits", f"{INTEL21}: 192 KB per core, shared "
                                "flexibly by synapses and neuron state; all of it counted for "
                                "synapses here (an upper bound)", True),
    input_axons=Figure(4096, "axons", _L2.replace("per-operation figure", "axon limit"), True),
    output_axons=Figure(4096, "edges", _L2.replace("per-operation figure", "axon limit"), True),
    share_conv_weights=Figure(1, "bool", f"{INTEL21}: convolutional synapse compression; one "
                              "kernel per core assumed", True),
    cores_per_tile=Figure(4, "cores", _L2.replace("per-operation figure", "mesh layout"), True),
    mesh_tiles_x=Figure(8, "tiles", _L2.replace("per-operation figure", "mesh layout"), True),
    mesh_tiles_y=Figure(4, "tiles", _L2.replace("per-operation figure", "mesh layout"), True),
    **{k: Figure(getattr(LOIHI, k).value, getattr(LOIHI, k).unit, _L2, True)
       for k in ("synop_pj", "synop_ns", "update_active_pj", "update_inactive_pj", "update_active_ns",
                 "update_inactive_ns", "spike_in_tile_pj", "spike_in_tile_ns", "hop_ew_pj", "hop_ns_pj",
                 "hop_ew_ns", "hop_ns_ns", "barrier_1_tile_ns", "barrier_32_tiles_ns",
                 "barrier_256_chips_ns", "reset_uj_per_chip")},
    static_mw_per_chip=Figure(104.4 * 31 / 60, "mW", "assumed: Loihi's measured 104.4 mW per chip "
                              "scaled by die area (31 / 60 mm^2); no Loihi 2 static power is published",
                              True),
)

PROFILES = {p.name: p for p in (LOIHI, LOIHI2)}


def parse_overrides(items: list[str]) -> dict:
    """["synop_pj=10", ...] -> {"synop_pj": 10.0}; a malformed item raises ValueError."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not key.strip() or not math.isfinite(number) or number < 0:
            raise ValueError(f"--chip-param takes NAME=VALUE with a finite number >= 0 (got {item!r})")
        out[key.strip()] = number
    return out


def profiles_with_overrides(items: list[str]) -> dict:
    """Every profile, with --chip-param items applied: NAME=VALUE to all, PROFILE.NAME=VALUE to one."""
    out = {}
    parsed = parse_overrides(items)
    for name, profile in PROFILES.items():
        mine = {}
        for key, value in parsed.items():
            target, dot, field = key.rpartition(".")
            if dot and target not in PROFILES:
                raise ValueError(f"--chip-param {key}: unknown profile {target!r}; choose from {', '.join(PROFILES)}")
            if not dot or target == name:
                mine[field] = value
        out[name] = profile.with_overrides(mine)
    return out
